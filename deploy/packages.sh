# Sourced by deploy/run-local.sh and tests/run.sh: installs the Debian
# packages syncrelay needs, skipping the ones already present.

SYNCRELAY_BUILD_PACKAGES="build-essential cmake pkg-config libcivetweb-dev libcyaml-dev
    libjansson-dev libhiredis-dev libpq-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev
    libyaml-dev"
SYNCRELAY_RUN_PACKAGES="redis-server sqlite3 curl"
SYNCRELAY_TEST_PACKAGES="libcmocka-dev postgresql postgresql-client python3
    python3-cryptography wrk clang libclang-rt-dev"

# install_missing PACKAGE...: apt-get installs the ones dpkg does not know.
install_missing() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}
