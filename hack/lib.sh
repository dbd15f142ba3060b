# shellcheck shell=bash
# hack/lib.sh -- shared by hack/test and hack/demo: the build dependencies and their install.
# Source it from bash; it defines functions and variables only.

# Debian 12 packages prescale builds and tests with.
PS_DEPS=(build-essential cmake ninja-build pkg-config libcjson-dev libyaml-dev libcriterion-dev jq
	libcurl4-openssl-dev prometheus python3 openssl)

# Installs the packages of PS_DEPS that are missing (all of them again when CI=true), as root
# or through sudo. Does nothing when everything is there.
ps_install_deps() {
	if ! command -v dpkg >/dev/null 2>&1; then
		echo "hack: no dpkg here; install these (or their equivalents) yourself: ${PS_DEPS[*]}" >&2
		return 0
	fi
	local missing=() p
	for p in "${PS_DEPS[@]}"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ] && [ "${CI:-}" != true ]; then
		return 0
	fi
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "hack: need root or sudo to install: ${missing[*]:-${PS_DEPS[*]}}" >&2
			return 1
		fi
		sudo=(sudo)
	fi
	echo "hack: installing ${missing[*]:-${PS_DEPS[*]}}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PS_DEPS[@]}"
}

# The shared data folder beside the repository (DESIGN.md, the HPA vectors, fixtures).
ps_shared_dir() {
	local dir="$1/../shared"
	if [ -d "$dir" ]; then
		(cd "$dir" && pwd)
	else
		echo "hack: warning: $dir does not exist; tests that read the shared data will fail" >&2
		echo "$dir"
	fi
}

# Configures and builds <build dir> with -j2; extra arguments go to cmake's configure step.
ps_build() {
	local dir=$1
	shift
	cmake -S . -B "$dir" -G Ninja -DPS_TESTS=ON -DPS_SHARED_DIR="$PS_SHARED" "$@"
	cmake --build "$dir" -j2
}

# Configures <build dir> with the extra cmake arguments after "--" and builds only <targets>.
ps_build_targets() {
	local dir=$1
	shift
	local targets=()
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		targets+=("$1")
		shift
	done
	[ "${1:-}" = "--" ] && shift
	cmake -S . -B "$dir" -G Ninja -DPS_TESTS=ON -DPS_SHARED_DIR="$PS_SHARED" "$@"
	cmake --build "$dir" -j2 --target "${targets[@]}"
}
