/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MC146818 CMOS RTC: an index port and a data port over 128 bytes of CMOS.
 *
 * The clock registers are computed from the host clock (UTC) on every read,
 * plus an offset the guest can set, so nothing ticks in the background and
 * there is no update cycle: UIP reads 0 and Linux never waits for it. There
 * is no IRQ 8 (no periodic, alarm or update interrupts); register C always
 * reads 0. The alarm registers are plain storage.
 *
 * Setting the time: while the SET bit of register B is set the clock is
 * frozen at the moment SET was written, reads return that frozen time, and
 * writes change it; clearing SET turns the frozen time into the offset from
 * the host clock, which is how Linux's mc146818_set_time() does it. A time
 * register written while SET is clear changes the offset at once. The day of
 * the week follows from the date once the clock runs again (a written value
 * is only seen while SET is held).
 *
 * The time is kept as a broken-down UTC time, independent of the BCD/binary
 * and 12/24-hour bits, so changing those bits only changes how later
 * accesses encode and decode values.
 */
#include "devices/rtc.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#define RTC_INDEX_PORT 0 /* offset of port 0x70 */
#define RTC_DATA_PORT 1	 /* offset of port 0x71 */
#define RTC_INDEX_MASK 0x7f /* bit 7 is the NMI mask, which we don't model */
#define RTC_CMOS_SIZE 128

#define RTC_SECONDS 0x00
#define RTC_SECONDS_ALARM 0x01
#define RTC_MINUTES 0x02
#define RTC_MINUTES_ALARM 0x03
#define RTC_HOURS 0x04
#define RTC_HOURS_ALARM 0x05
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY_OF_MONTH 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32 /* the FADT's default century register */

#define RTC_A_UIP 0x80
#define RTC_A_DEFAULT 0x26 /* 32.768 kHz time base, 1024 Hz periodic rate */
#define RTC_B_SET 0x80
#define RTC_B_DM_BINARY 0x04
#define RTC_B_24H 0x02
#define RTC_B_DEFAULT RTC_B_24H /* BCD, 24-hour, as PC firmware leaves it */
#define RTC_D_VRT 0x80		/* valid RAM and time: the battery is good */
#define RTC_HOURS_PM 0x80	/* 12-hour mode */

struct rtc {
	struct bus_device dev;
	pthread_mutex_t lock;
	time_t (*now)(void *opaque);
	void *opaque;

	uint8_t index;
	uint8_t cmos[RTC_CMOS_SIZE];
	/* Guest time minus host time, in seconds. */
	int64_t offset;
	/* SET is held: the clock is frozen at `frozen`. */
	bool frozen_valid;
	struct tm frozen;
};

static struct rtc *rtc_from_dev(struct bus_device *dev)
{
	return container_of(dev, struct rtc, dev);
}

static time_t rtc_host_now(const struct rtc *rtc)
{
	return rtc->now ? rtc->now(rtc->opaque) : time(NULL);
}

static void rtc_get_tm(const struct rtc *rtc, struct tm *ret)
{
	time_t t;

	if (rtc->frozen_valid) {
		*ret = rtc->frozen;
		return;
	}
	t = (time_t)((int64_t)rtc_host_now(rtc) + rtc->offset);
	if (!gmtime_r(&t, ret))
		memset(ret, 0, sizeof(*ret)); /* only for absurd offsets; reads as 1900-01-00 */
}

static bool rtc_binary(const struct rtc *rtc)
{
	return rtc->cmos[RTC_REG_B] & RTC_B_DM_BINARY;
}

static uint8_t rtc_encode(const struct rtc *rtc, int v)
{
	if (v < 0)
		v = 0;
	v %= 100;
	return rtc_binary(rtc) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

/* Invalid BCD digits decode to out-of-range values, which timegm() normalizes. */
static int rtc_decode(const struct rtc *rtc, uint8_t v)
{
	return rtc_binary(rtc) ? v : (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t rtc_encode_hours(const struct rtc *rtc, int hour)
{
	int h12;

	if (rtc->cmos[RTC_REG_B] & RTC_B_24H)
		return rtc_encode(rtc, hour);
	h12 = hour % 12 ? hour % 12 : 12;
	return rtc_encode(rtc, h12) | (hour >= 12 ? RTC_HOURS_PM : 0);
}

static int rtc_decode_hours(const struct rtc *rtc, uint8_t v)
{
	if (rtc->cmos[RTC_REG_B] & RTC_B_24H)
		return rtc_decode(rtc, v);
	return rtc_decode(rtc, v & ~RTC_HOURS_PM) % 12 + (v & RTC_HOURS_PM ? 12 : 0);
}

static bool rtc_is_clock_reg(uint8_t idx)
{
	switch (idx) {
	case RTC_SECONDS:
	case RTC_MINUTES:
	case RTC_HOURS:
	case RTC_DAY_OF_WEEK:
	case RTC_DAY_OF_MONTH:
	case RTC_MONTH:
	case RTC_YEAR:
	case RTC_CENTURY:
		return true;
	}
	return false;
}

static uint8_t rtc_read_clock(const struct rtc *rtc, uint8_t idx)
{
	struct tm tm;
	int year;

	rtc_get_tm(rtc, &tm);
	year = tm.tm_year + 1900;
	switch (idx) {
	case RTC_SECONDS:
		return rtc_encode(rtc, tm.tm_sec);
	case RTC_MINUTES:
		return rtc_encode(rtc, tm.tm_min);
	case RTC_HOURS:
		return rtc_encode_hours(rtc, tm.tm_hour);
	case RTC_DAY_OF_WEEK:
		return rtc_encode(rtc, tm.tm_wday + 1); /* Sunday = 1 */
	case RTC_DAY_OF_MONTH:
		return rtc_encode(rtc, tm.tm_mday);
	case RTC_MONTH:
		return rtc_encode(rtc, tm.tm_mon + 1);
	case RTC_YEAR:
		return rtc_encode(rtc, year % 100);
	case RTC_CENTURY:
		return rtc_encode(rtc, year / 100);
	}
	return 0;
}

static void rtc_write_clock(struct rtc *rtc, uint8_t idx, uint8_t v)
{
	struct tm tm;
	int year;

	rtc_get_tm(rtc, &tm);
	year = tm.tm_year + 1900;
	switch (idx) {
	case RTC_SECONDS:
		tm.tm_sec = rtc_decode(rtc, v);
		break;
	case RTC_MINUTES:
		tm.tm_min = rtc_decode(rtc, v);
		break;
	case RTC_HOURS:
		tm.tm_hour = rtc_decode_hours(rtc, v);
		break;
	case RTC_DAY_OF_WEEK:
		tm.tm_wday = rtc_decode(rtc, v) - 1;
		break;
	case RTC_DAY_OF_MONTH:
		tm.tm_mday = rtc_decode(rtc, v);
		break;
	case RTC_MONTH:
		tm.tm_mon = rtc_decode(rtc, v) - 1;
		break;
	case RTC_YEAR:
		tm.tm_year = year / 100 * 100 + rtc_decode(rtc, v) - 1900;
		break;
	case RTC_CENTURY:
		tm.tm_year = rtc_decode(rtc, v) * 100 + year % 100 - 1900;
		break;
	}

	if (rtc->frozen_valid) {
		rtc->frozen = tm;
		return;
	}
	/* timegm() normalizes out-of-range fields rather than failing. */
	rtc->offset = (int64_t)timegm(&tm) - (int64_t)rtc_host_now(rtc);
}

static void rtc_write_reg_b(struct rtc *rtc, uint8_t v)
{
	uint8_t old = rtc->cmos[RTC_REG_B];
	struct tm tm;

	if (!(old & RTC_B_SET) && (v & RTC_B_SET)) {
		rtc_get_tm(rtc, &tm);
		rtc->frozen = tm;
		rtc->frozen_valid = true;
	} else if ((old & RTC_B_SET) && !(v & RTC_B_SET)) {
		tm = rtc->frozen;
		rtc->frozen_valid = false;
		rtc->offset = (int64_t)timegm(&tm) - (int64_t)rtc_host_now(rtc);
	}
	rtc->cmos[RTC_REG_B] = v;
}

static uint8_t rtc_read_data(struct rtc *rtc)
{
	uint8_t idx = rtc->index, v;

	if (rtc_is_clock_reg(idx))
		return rtc_read_clock(rtc, idx);
	switch (idx) {
	case RTC_REG_A:
		return rtc->cmos[RTC_REG_A] & ~RTC_A_UIP;
	case RTC_REG_C:
		/* Interrupt flags clear on read; we never set any. */
		v = rtc->cmos[RTC_REG_C];
		rtc->cmos[RTC_REG_C] = 0;
		return v;
	case RTC_REG_D:
		return RTC_D_VRT;
	}
	return rtc->cmos[idx];
}

static void rtc_write_data(struct rtc *rtc, uint8_t v)
{
	uint8_t idx = rtc->index;

	if (rtc_is_clock_reg(idx)) {
		rtc_write_clock(rtc, idx, v);
		return;
	}
	switch (idx) {
	case RTC_REG_A:
		rtc->cmos[RTC_REG_A] = v & ~RTC_A_UIP; /* UIP is read-only */
		return;
	case RTC_REG_B:
		rtc_write_reg_b(rtc, v);
		return;
	case RTC_REG_C:
	case RTC_REG_D:
		return; /* read-only */
	}
	rtc->cmos[idx] = v;
}

/* Wider accesses reach the two 8-bit ports as consecutive byte accesses. */
static void rtc_bus_read(struct bus_device *dev, uint64_t offset, uint8_t *data, uint32_t size)
{
	struct rtc *rtc = rtc_from_dev(dev);

	pthread_mutex_lock(&rtc->lock);
	for (uint32_t i = 0; i < size; i++)
		/* The index port is write-only on real hardware. */
		data[i] = offset + i == RTC_DATA_PORT ? rtc_read_data(rtc) : 0xff;
	pthread_mutex_unlock(&rtc->lock);
}

static void rtc_bus_write(struct bus_device *dev, uint64_t offset, const uint8_t *data,
			  uint32_t size)
{
	struct rtc *rtc = rtc_from_dev(dev);

	pthread_mutex_lock(&rtc->lock);
	for (uint32_t i = 0; i < size; i++) {
		if (offset + i == RTC_INDEX_PORT)
			rtc->index = data[i] & RTC_INDEX_MASK;
		else
			rtc_write_data(rtc, data[i]);
	}
	pthread_mutex_unlock(&rtc->lock);
}

static const struct bus_device_ops rtc_bus_ops = {
	.read = rtc_bus_read,
	.write = rtc_bus_write,
};

int rtc_create(time_t (*now)(void *opaque), void *opaque, struct rtc **ret)
{
	struct rtc *rtc;
	int r;

	rtc = calloc(1, sizeof(*rtc));
	if (!rtc)
		return -ENOMEM;
	r = pthread_mutex_init(&rtc->lock, NULL);
	if (r) {
		free(rtc);
		return -r;
	}
	rtc->dev = (struct bus_device){ .ops = &rtc_bus_ops, .name = "rtc" };
	rtc->now = now;
	rtc->opaque = opaque;
	rtc->cmos[RTC_REG_A] = RTC_A_DEFAULT;
	rtc->cmos[RTC_REG_B] = RTC_B_DEFAULT;
	rtc->cmos[RTC_REG_D] = RTC_D_VRT;

	*ret = rtc;
	return 0;
}

void rtc_destroy(struct rtc *rtc)
{
	if (!rtc)
		return;
	pthread_mutex_destroy(&rtc->lock);
	free(rtc);
}

struct bus_device *rtc_bus_device(struct rtc *rtc)
{
	return &rtc->dev;
}
