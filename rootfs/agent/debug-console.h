/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

/* Kata's debug console port, so the same habits work. */
#define AGENT_DEBUG_CONSOLE_PORT 1026

/* True in a debug image that has a shell. */
bool debug_console_wanted(void);
/* A non-blocking vsock listener on AGENT_DEBUG_CONSOLE_PORT, or -errno. */
int debug_console_listen(void);
/* Accepts what is pending: a shell per connection from the host. */
void debug_console_accept(int lfd);
