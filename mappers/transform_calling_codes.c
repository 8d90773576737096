/* The country calling codes of ITU-T Recommendation E.164: the assigned
 * codes from the ITU-T list "E.164 assigned country codes" (Annex to ITU
 * Operational Bulletin; spare and reserved codes left out). The table is
 * prefix-free by construction of E.164, which is what lets
 * transform_phone_split() cut an E.164 number without knowing its country.
 * Kept sorted by strcmp so it can be binary-searched; test_transform checks
 * both properties. */
#include "mappers/transform_internal.h"

/* One line per leading digits, as the ITU list reads. */
/* clang-format off */
const char *const transform_calling_codes[] = {
    "1",   /* North American Numbering Plan */
    "20",  "211", "212", "213", "216", "218",
    "220", "221", "222", "223", "224", "225", "226", "227", "228", "229",
    "230", "231", "232", "233", "234", "235", "236", "237", "238", "239",
    "240", "241", "242", "243", "244", "245", "246", "247", "248", "249",
    "250", "251", "252", "253", "254", "255", "256", "257", "258",
    "260", "261", "262", "263", "264", "265", "266", "267", "268", "269",
    "27",
    "290", "291", "297", "298", "299",
    "30",  "31",  "32",  "33",  "34",
    "350", "351", "352", "353", "354", "355", "356", "357", "358", "359",
    "36",
    "370", "371", "372", "373", "374", "375", "376", "377", "378", "379",
    "380", "381", "382", "383", "385", "386", "387", "389",
    "39",
    "40",  "41",
    "420", "421", "423",
    "43",  "44",  "45",  "46",  "47",  "48",  "49",
    "500", "501", "502", "503", "504", "505", "506", "507", "508", "509",
    "51",  "52",  "53",  "54",  "55",  "56",  "57",  "58",
    "590", "591", "592", "593", "594", "595", "596", "597", "598", "599",
    "60",  "61",  "62",  "63",  "64",  "65",  "66",
    "670", "672", "673", "674", "675", "676", "677", "678", "679",
    "680", "681", "682", "683", "685", "686", "687", "688", "689",
    "690", "691", "692",
    "7",   /* Russia and Kazakhstan */
    "800", /* International Freephone Service */
    "808", /* International Shared Cost Service */
    "81",  "82",  "84",
    "850", "852", "853", "855", "856",
    "86",
    "870", /* Inmarsat SNAC */
    "878", /* Universal Personal Telecommunication Service */
    "880",
    "881", /* Global Mobile Satellite System */
    "882", "883", /* International Networks */
    "886",
    "888", /* Telecommunications for Disaster Relief (OCHA) */
    "90",  "91",  "92",  "93",  "94",  "95",
    "960", "961", "962", "963", "964", "965", "966", "967", "968",
    "970", "971", "972", "973", "974", "975", "976", "977",
    "979", /* International Premium Rate Service */
    "98",
    "991", /* International Telecommunications Public Correspondence Service trial */
    "992", "993", "994", "995", "996",
    "997", /* Kazakhstan (assigned 2023; +7 7xx still in use) */
    "998",
};
/* clang-format on */

const size_t transform_calling_codes_count =
    sizeof(transform_calling_codes) / sizeof(transform_calling_codes[0]);
