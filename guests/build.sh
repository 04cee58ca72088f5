#!/usr/bin/env bash
# Builds the bare-metal guests (bin/NAME.elf) with the host's gcc, the
# expected output of each workload (expected/NAME.out) by running the same
# C code natively against the hosted runtime, and the static Linux
# benchmark program (bench/bin/bench) that runs the same workloads as a
# Linux process. The images and expected outputs are committed, so tests
# need no toolchain; run this after changing a guest. They keep their
# symbol tables, so profiles, logs and gdb name guest functions.
set -euo pipefail
cd "$(dirname "$0")"

CC=${CC:-gcc}
CFLAGS=(-O2 -std=c11 -Wall -Wextra -ffreestanding -fno-builtin -fno-stack-protector -fno-pic
        -fno-asynchronous-unwind-tables -mno-red-zone -mgeneral-regs-only -Irt)
LDFLAGS=(-nostdlib -static -no-pie -Wl,-T,link.ld -Wl,--build-id=none -Wl,-n -Wl,--no-warn-rwx-segments)

# Workloads whose output the native run decides.
WORKLOADS=(hello sieve sort sha256 crc32 recursive bytecode nbody compress simd x87)
# Workloads that compute in floating point (built with SSE and x87 registers allowed).
FLOAT=(nbody simd x87)
# Further flags of a workload, on the board and natively.
declare -A EXTRA=([simd]=-msse4.2)
# Workloads that end with results in their registers (rt_exit_loaded).
LOADED=(simd x87)
# Workloads the benchmark program runs.
BENCH=(sieve sort sha256 crc32 recursive bytecode nbody compress)
# Guests whose expected behaviour the tests state (faults, self-modifying code).
SPECIAL=(smc fault_de fault_ud fault_oob sysregs)

mkdir -p bin expected
for g in "${WORKLOADS[@]}" "${SPECIAL[@]}"; do
    flags=()
    for f in "${CFLAGS[@]}"; do
        if [[ $f != -mgeneral-regs-only || " ${FLOAT[*]} " != *" $g "* ]]; then flags+=("$f"); fi
    done
    rt=(rt/start.S rt/rt_board.c rt/rt_common.c)
    if [[ " ${LOADED[*]} " == *" $g "* ]]; then rt+=(rt/rt_exit_loaded.c); fi
    $CC "${flags[@]}" ${EXTRA[$g]:-} "${LDFLAGS[@]}" -o "bin/$g.elf" "${rt[@]}" "src/$g.c"
done

host=$(mktemp -d)
trap 'rm -rf "$host"' EXIT
for g in "${WORKLOADS[@]}"; do
    $CC -O2 -std=c11 -Irt ${EXTRA[$g]:-} -o "$host/$g" rt/rt_host.c rt/rt_common.c "src/$g.c"
    status=0
    "$host/$g" > "expected/$g.out" || status=$?
    echo "$status" > "expected/$g.status"
done
# The Linux benchmark program: the BENCH workloads, plus the C
# library's string routines, each entry renamed NAME_main.
objs=()
for g in "${BENCH[@]}"; do
    $CC -O2 -std=c11 -Wall -Wextra -Irt "-Dguest_main=${g}_main" -c -o "$host/$g.o" "src/$g.c"
    objs+=("$host/$g.o")
done
mkdir -p bench/bin
$CC -O2 -std=c11 -Wall -Wextra -Irt -static -o bench/bin/bench bench/main.c bench/strings.c rt/rt_common.c "${objs[@]}"
ls -l bin bench/bin
