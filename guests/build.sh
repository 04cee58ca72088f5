#!/usr/bin/env bash
# Builds the bare-metal guests (bin/NAME.elf) with the host's gcc, and the
# expected output of each workload (expected/NAME.out) by running the same
# C code natively against the hosted runtime. The images and expected
# outputs are committed, so tests need no toolchain; run this after
# changing a guest.
set -euo pipefail
cd "$(dirname "$0")"

CC=${CC:-gcc}
CFLAGS=(-O2 -std=c11 -Wall -Wextra -ffreestanding -fno-builtin -fno-stack-protector -fno-pic
        -fno-asynchronous-unwind-tables -mno-red-zone -mgeneral-regs-only -Irt)
LDFLAGS=(-nostdlib -static -no-pie -Wl,-T,link.ld -Wl,--build-id=none -Wl,-n -Wl,--no-warn-rwx-segments)

# Workloads whose output the native run decides.
WORKLOADS=(hello sieve sort sha256 crc32 recursive bytecode)
# Guests whose expected behaviour the tests state (faults, self-modifying code).
SPECIAL=(smc fault_de fault_ud fault_oob)

mkdir -p bin expected
for g in "${WORKLOADS[@]}" "${SPECIAL[@]}"; do
    $CC "${CFLAGS[@]}" "${LDFLAGS[@]}" -o "bin/$g.elf" rt/start.S rt/rt_board.c rt/rt_common.c "src/$g.c"
    strip "bin/$g.elf"
done

host=$(mktemp -d)
trap 'rm -rf "$host"' EXIT
for g in "${WORKLOADS[@]}"; do
    $CC -O2 -std=c11 -Irt -o "$host/$g" rt/rt_host.c rt/rt_common.c "src/$g.c"
    status=0
    "$host/$g" > "expected/$g.out" || status=$?
    echo "$status" > "expected/$g.status"
done
ls -l bin
