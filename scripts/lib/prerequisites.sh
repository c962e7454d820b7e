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

# PgBouncer >= 1.21 (protocol-level prepared statements in transaction pooling, `max_prepared_statements`)
# for tests/tests/pgbouncer.rs; scripts/test calls this, scripts/up does not need it.
# Debian's package when the release has one that new (trixie: 1.24); on bookworm (1.18) Debian trixie's
# source package of pgbouncer is fetched with apt-get (a private source list; the system's is untouched)
# and built once into /usr/local (about a minute).
pgbouncer_binary() {
    local candidate
    for candidate in "${SENTINEL_PGBOUNCER_BIN:-}" "$(command -v pgbouncer 2> /dev/null)" /usr/sbin/pgbouncer /usr/local/bin/pgbouncer; do
        [ -n "$candidate" ] && [ -x "$candidate" ] && pgbouncer_new_enough "$("$candidate" --version 2> /dev/null | sed -n 's/^PgBouncer \([0-9.]*\).*/\1/p' | head -1)" && {
            echo "$candidate"
            return 0
        }
    done
    return 1
}

# True when version $1 (e.g. 1.24.1, or Debian's 1.24.1-1+deb13u2) is at least 1.21.
pgbouncer_new_enough() {
    local version="${1#*:}"
    version="${version%%-*}"
    [ -n "$version" ] && printf '1.21\n%s\n' "$version" | sort -V -C
}

# Debian's prometheus, for the metrics tests: they run it on infra/prometheus/prometheus.yml
# (tests/tests/metrics.rs).
ensure_prometheus() {
    command -v prometheus > /dev/null && return 0
    if ! command -v apt-get > /dev/null; then
        echo "error: prometheus is missing and there is no apt-get; install it by hand" >&2
        exit 1
    fi
    apt_install prometheus
}

ensure_pgbouncer() {
    pgbouncer_binary > /dev/null && return 0
    if ! command -v apt-get > /dev/null; then
        echo "error: PgBouncer >= 1.21 is missing and there is no apt-get; install it and set SENTINEL_PGBOUNCER_BIN" >&2
        exit 1
    fi
    as_root apt-get update -q > /dev/null
    local candidate
    candidate="$(apt-cache policy pgbouncer | sed -n 's/^ *Candidate: //p')"
    if pgbouncer_new_enough "$candidate"; then
        apt_install pgbouncer
        return 0
    fi
    echo "==> PgBouncer ${candidate:-none} from apt is older than 1.21: building Debian trixie's pgbouncer source package" >&2
    local missing=()
    command -v make > /dev/null || missing+=(make)
    command -v pkg-config > /dev/null || missing+=(pkg-config)
    dpkg -s libevent-dev > /dev/null 2>&1 || missing+=(libevent-dev)
    dpkg -s libssl-dev > /dev/null 2>&1 || missing+=(libssl-dev)
    [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
    local work
    work="$(mktemp -d)"
    chmod 755 "$work"
    mkdir -p "$work/lists/partial"
    printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n' > "$work/sources.list"
    local apt_options=(-o "Dir::Etc::sourcelist=$work/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$work/lists")
    (
        set -e
        cd "$work"
        as_root apt-get "${apt_options[@]}" update -q > /dev/null
        as_root apt-get "${apt_options[@]}" source --download-only -q pgbouncer 2> /dev/null
        tar xzf pgbouncer_*.orig.tar.gz
        cd pgbouncer-*/
        ./configure --prefix=/usr/local --without-cares --with-openssl > configure.log
        make -j"$(nproc)" > make.log
        as_root make install > install.log
    ) || {
        echo "error: building PgBouncer failed (logs in $work)" >&2
        exit 1
    }
    as_root rm -rf "$work"
    pgbouncer_binary > /dev/null || {
        echo "error: the built PgBouncer is not usable" >&2
        exit 1
    }
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
