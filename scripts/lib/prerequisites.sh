# Shared by scripts/up and scripts/test: make a fresh Debian machine with rustup's Rust ready.
# Installs only what is missing: the wasm32-wasip2 target, a C toolchain (rustc links through `cc`),
# and the PostgreSQL / Redis server binaries. The Debian services are NOT started: Sentinel runs
# its own private servers.

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

have_postgres_server() {
    compgen -G "/usr/lib/postgresql/*/bin/initdb" > /dev/null || command -v initdb > /dev/null
}

have_redis_server() {
    [ -x /usr/bin/redis-server ] || command -v redis-server > /dev/null
}

apt_install() {
    echo "==> installing $* (apt-get)" >&2
    # policy-rc.d 101 keeps the packages' maintainer scripts from starting the system services.
    local created_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d > /dev/null
        as_root chmod 755 /usr/sbin/policy-rc.d
        created_policy=yes
    fi
    local status=0
    as_root apt-get update -q && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" || status=$?
    if [ -n "$created_policy" ]; then as_root rm -f /usr/sbin/policy-rc.d; fi
    return $status
}

ensure_prerequisites() {
    if ! command -v cargo > /dev/null; then
        if [ -x "$HOME/.cargo/bin/cargo" ]; then
            export PATH="$HOME/.cargo/bin:$PATH"
        else
            echo "error: cargo not found; install Rust with rustup (https://rustup.rs) first" >&2
            exit 1
        fi
    fi

    if command -v rustup > /dev/null; then
        if ! rustup target list --installed | grep -qx wasm32-wasip2; then
            echo "==> rustup target add wasm32-wasip2" >&2
            rustup target add wasm32-wasip2
        fi
    elif [ ! -d "$(rustc --print sysroot)/lib/rustlib/wasm32-wasip2" ]; then
        echo "error: the wasm32-wasip2 Rust target is missing and rustup is not available to add it" >&2
        exit 1
    fi

    local packages=()
    command -v cc > /dev/null || packages+=(gcc libc6-dev)
    have_postgres_server || packages+=(postgresql)
    have_redis_server || packages+=(redis-server)
    if [ ${#packages[@]} -gt 0 ]; then
        if ! command -v apt-get > /dev/null; then
            echo "error: missing ${packages[*]} and no apt-get to install them; install them by hand" >&2
            exit 1
        fi
        apt_install "${packages[@]}"
    fi
}

# The browser tests (tests/tests/board.rs) drive Debian's chromium through chromium-driver (WebDriver).
have_browser() {
    { command -v chromium > /dev/null || [ -x /usr/bin/chromium ]; } && { command -v chromedriver > /dev/null || [ -x /usr/bin/chromedriver ]; }
}

ensure_browser() {
    have_browser && return 0
    if ! command -v apt-get > /dev/null; then
        echo "error: chromium and chromium-driver are missing and there is no apt-get to install them; install them by hand" >&2
        exit 1
    fi
    apt_install chromium chromium-driver
}

# Cargo packages of the Wasm components the given manifests build (`-p <pkg>` of each build command).
component_packages() {
    local manifest
    for manifest in "$@"; do
        [ -f "$manifest" ] || continue
        sed -n 's/^[[:space:]]*command[[:space:]]*=[[:space:]]*"cargo build .*wasm32-wasip2.* -p \([A-Za-z0-9_-]*\).*"/\1/p' "$manifest"
    done | sort -u
}
