#!/usr/bin/env bash
# Builds the Linux test programs: bin/vt, one static x86-64 executable with a
# subject per source file (`vt SUBJECT ARGS...`), stripped to stay small.
# The binary is committed, so tests need no toolchain; run this after
# changing a source.
set -euo pipefail
cd "$(dirname "$0")"

CC=${CC:-gcc}
mkdir -p bin
$CC -O2 -static -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -fno-pie -no-pie -o bin/vt src/*.c -lm
strip bin/vt
ls -l bin/vt

# The threads test program bin/vtthreads (static, `vtthreads SUBJECT`).
$CC -O2 -static -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -fno-pie -no-pie -pthread -o bin/vtthreads threads/*.c
strip bin/vtthreads
ls -l bin/vtthreads

# The dynamic test program bin/vtdyn (a PIE linked against the host's
# glibc) and the library it dlopens, bin/libvtplug.so.
$CC -O2 -fPIC -shared -Wall -Wextra -o bin/libvtplug.so dyn/plug.c -lm
$CC -O2 -fPIE -pie -rdynamic -Wall -Wextra -o bin/vtdyn dyn/vtdyn.c -lm -ldl
strip bin/vtdyn bin/libvtplug.so
ls -l bin/vtdyn bin/libvtplug.so

# The socket and event test program bin/vtnet (net/*.c).
$CC -O2 -static -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -fno-pie -no-pie -o bin/vtnet net/*.c
strip bin/vtnet
ls -l bin/vtnet

# The processor test program bin/vtisa (isa/*.c): CPUID as a program sees
# it, and AES-NI, SHA and PCLMULQDQ against plain C.
$CC -O2 -static -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -fno-pie -no-pie -o bin/vtisa isa/*.c
strip bin/vtisa
ls -l bin/vtisa

# The x86-64-v3 test program bin/vtv3 (v3/vtv3.c): AVX2 and BMI code from
# the compiler, dynamically linked with lazy binding.
$CC -O2 -march=x86-64-v3 -Wall -Wextra -Wl,-z,lazy -o bin/vtv3 v3/vtv3.c
strip bin/vtv3
ls -l bin/vtv3
