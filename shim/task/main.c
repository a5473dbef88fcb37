/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd-shim-nacelle-v2 (runtime type io.containerd.nacelle.v2).
 * Built twice: with the pod runtime of shim/sandbox/ (the real binary; if
 * shim/sandbox does not provide it, serve and delete say so), and with
 * SHIM_FAKE_RUNTIME as the test binary, whose runtime runs the OCI process
 * directly on the host (fake-runtime.c).
 */
#include <stddef.h>

#include "shim/task.h"

#if defined(SHIM_FAKE_RUNTIME)
extern const struct shim_runtime_ops shim_fake_runtime_ops;
#define RUNTIME_OPS (&shim_fake_runtime_ops)
#elif defined(NACELLE_SHIM_HAVE_SANDBOX)
/* Weak: while shim/sandbox/ is being written its library may not define
 * the ops yet; then the address is NULL and serve/delete say so. */
extern const struct shim_runtime_ops shim_sandbox_runtime_ops __attribute__((weak));
#define RUNTIME_OPS (&shim_sandbox_runtime_ops)
#else
#define RUNTIME_OPS NULL
#endif

int main(int argc, char **argv)
{
	return shim_main(argc, argv, RUNTIME_OPS);
}
