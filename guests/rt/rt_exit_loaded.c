/* The board's rt_exit_loaded, linked into the guests that leave results in
 * their registers (see rt.h). */
#include "rt.h"

/* No clobbers are declared: nothing runs after the exit port is written. */
void rt_exit_loaded(int code, const void *xmm, const long double *x87) {
    __asm__ volatile("movdqu 0(%0), %%xmm0\n\tmovdqu 16(%0), %%xmm1\n\tmovdqu 32(%0), %%xmm2\n\t"
                     "movdqu 48(%0), %%xmm3\n\tmovdqu 64(%0), %%xmm4\n\tmovdqu 80(%0), %%xmm5\n\t"
                     "movdqu 96(%0), %%xmm6\n\tmovdqu 112(%0), %%xmm7\n\tmovdqu 128(%0), %%xmm8\n\t"
                     "movdqu 144(%0), %%xmm9\n\tmovdqu 160(%0), %%xmm10\n\tmovdqu 176(%0), %%xmm11\n\t"
                     "movdqu 192(%0), %%xmm12\n\tmovdqu 208(%0), %%xmm13\n\tmovdqu 224(%0), %%xmm14\n\t"
                     "movdqu 240(%0), %%xmm15"
                     :
                     : "r"(xmm)
                     : "memory");
    if (x87)
        __asm__ volatile("fldt 0(%0)\n\tfldt 16(%0)\n\tfldt 32(%0)\n\tfldt 48(%0)\n\t"
                         "fldt 64(%0)\n\tfldt 80(%0)\n\tfldt 96(%0)\n\tfldt 112(%0)"
                         :
                         : "r"(x87)
                         : "memory");
    rt_exit(code);
}

