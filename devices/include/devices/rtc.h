/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MC146818-compatible CMOS RTC at ports 0x70 (index, bit 7 = NMI mask) and
 * 0x71 (data). Without it Debian's kernel spends seconds probing at boot.
 * Time is read from the host clock (UTC) on every access; guest writes to
 * the time registers are accepted as an offset from the host clock.
 */
#pragma once

#include <time.h>

#include "common/macros.h"
#include "devices/bus.h"

#define RTC_PORT_BASE 0x70
#define RTC_PORT_LEN 2

struct rtc;

/* now() supplies the wall clock; NULL means time(NULL). For tests. */
int rtc_create(time_t (*now)(void *opaque), void *opaque, struct rtc **ret) _wur_;
void rtc_destroy(struct rtc *rtc);
struct bus_device *rtc_bus_device(struct rtc *rtc);
