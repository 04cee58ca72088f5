#!/usr/bin/env bash
# Cross-builds visa for another Linux host and runs its tests there under
# qemu user emulation, with Debian packages only:
#
#   ci/cross.sh aarch64   the board guests (interp, jit, tiered), the
#                         filetests (every tier), the code memory and the
#                         Linux user-mode tests (vt under every engine but
#                         vfork and clonevm, which qemu-user cannot run; six
#                         of the busybox scripts under interp and tiered,
#                         which compiles on the guest's thread there);
#                         .ci/run runs it (VISA_CROSS=0 does not)
#   ci/cross.sh s390x     a big-endian host: the board guests, the filetests
#                         and the code memory; run by hand
#
# Debian's rustc-web (/usr/bin/rustc) compiles, driven by cargo through
# RUSTC; the target's standard library is Debian's libstd-rust-web-dev for
# that architecture when the archive has it at rustc's version, and is
# otherwise built from Debian's rust-web-src (cargo -Zbuild-std, which
# fetches the library's crates from crates.io). Tests run through
# qemu-ARCH without -L where the target's glibc comes from the multiarch
# packages (mixing in /usr/ARCH-linux-gnu's hangs in pthread_create), and
# qemu-ARCH is registered with binfmt_misc because `visa run` and the tests
# execute the cross-built binaries. The build goes to target/TRIPLE.
set -euo pipefail
cd "$(dirname "$0")/.."

arch=${1:-}
case $arch in
    aarch64)
        deb=arm64 loader=/lib/ld-linux-aarch64.so.1 tests=(board filetests code_memory linux)
        # qemu-user makes a clone with CLONE_VM and CLONE_VFORK a fork and
        # refuses CLONE_VM without CLONE_THREAD, so a vfork child's memory
        # is not its parent's there and no CLONE_VM child can run beside
        # its parent: the tests of both cannot pass under it.
        skip=(--skip busybox_applets_compiled --skip vfork_children_share_memory
            --skip clone_vm_children_run_beside_their_parent)
        # The tests take in the emulated host (tests/linux.rs, `emulated_host`).
        export VISA_EMULATED_HOST=1
        ;;
    s390x) deb=s390x loader=/lib/ld64.so.1 tests=(board filetests code_memory) skip=() ;;
    *)
        echo "usage: ci/cross.sh aarch64|s390x" >&2
        exit 2
        ;;
esac
triple=$arch-unknown-linux-gnu
start=$SECONDS

sudo=""
if [[ $(id -u) != 0 ]]; then sudo="sudo"; fi
apt_install() {
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The compiler, linker, emulator, and the target's standard library.
if ! dpkg --print-foreign-architectures | grep -qx "$deb"; then
    $sudo dpkg --add-architecture "$deb"
fi
$sudo apt-get update -qq
apt_install rustc-web "gcc-$arch-linux-gnu" "libc6-dev-$deb-cross" qemu-user qemu-user-binfmt
version=$(dpkg-query -W -f '${Version}' rustc-web)
build_std=()
# The archive's versions are read whole before they are searched: with
# pipefail, `apt-cache madison | grep -q` fails when grep stops reading at
# the first match and apt-cache dies of SIGPIPE.
archived=$(apt-cache madison "libstd-rust-web-dev:$deb")
if grep -qF "| $version |" <<<"$archived"; then
    apt_install "libstd-rust-web-dev:$deb=$version"
else
    echo "ci/cross.sh: no libstd-rust-web-dev:$deb $version in the archive; building the standard library"
    apt_install rust-web-src
    build_std=(-Zbuild-std=std,panic_unwind)
    export RUSTC_BOOTSTRAP=1
fi

# binfmt_misc, so that the host kernel runs the target's binaries.
if [[ ! -e /proc/sys/fs/binfmt_misc/status ]]; then
    $sudo mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [[ ! -e /proc/sys/fs/binfmt_misc/qemu-$arch ]]; then
    $sudo sh -c "cat /usr/lib/binfmt.d/qemu-$arch.conf > /proc/sys/fs/binfmt_misc/register"
fi
# Where the multiarch C library is not installed (libc6:s390x cannot be:
# Debian's security archive has no s390x build matching the host's libc6),
# qemu finds the cross one from libc6-dev-ARCH-cross, then the only one.
if [[ ! -e $loader ]]; then
    export QEMU_LD_PREFIX=/usr/$arch-linux-gnu
fi
echo "ci/cross.sh $arch: set up in $((SECONDS - start)) s"

upper=${triple^^}
upper=${upper//-/_}
export RUSTC=/usr/bin/rustc
export "CARGO_TARGET_${upper}_LINKER=$arch-linux-gnu-gcc"
export "CARGO_TARGET_${upper}_RUNNER=qemu-$arch"

test_args=()
for t in "${tests[@]}"; do test_args+=(--test "$t"); done
built=$SECONDS
cargo test --release --target "$triple" "${build_std[@]}" "${test_args[@]}" --no-run
echo "ci/cross.sh $arch: built in $((SECONDS - built)) s"
ran=$SECONDS
cargo test --release --target "$triple" "${build_std[@]}" "${test_args[@]}" -- "${skip[@]}"
echo "ci/cross.sh $arch: tests ran in $((SECONDS - ran)) s; $((SECONDS - start)) s in all"
