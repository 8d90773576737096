/* syncrelay: argv -> relay_app_run(); nothing else. */
#include "relay/app.h"

int main(int argc, char **argv)
{
    return relay_app_run(argc, argv);
}
