# Shared by scripts/test and scripts/demo: install what is missing, quietly and idempotently.

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_apt PACKAGE:PROBE ... -- PROBE is a path, a command, or `ensurepip` (a Python module)
ensure_apt() {
    local missing=() item pkg probe
    for item in "$@"; do
        pkg=${item%%:*} probe=${item#*:}
        case $probe in
            ensurepip) python3 -c 'import ensurepip, venv' 2>/dev/null && continue ;;
            /*) [ -e "$probe" ] && continue ;;
            *) command -v "$probe" >/dev/null 2>&1 && continue ;;
        esac
        missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing with apt: ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

# ensure_venv SPEC -- .venv with the project installed (editable) with SPEC's extras
ensure_venv() {
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -e "$1"
}
