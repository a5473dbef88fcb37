/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CMOS RTC tests with a fake wall clock, through a port bus at 0x70/0x71 as
 * Linux's CMOS_READ/CMOS_WRITE reach it.
 */
#include "devices/rtc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "devices/bus.h"
#include "common/test.h"


#define SECONDS 0x00
#define MINUTES 0x02
#define HOURS 0x04
#define WDAY 0x06
#define MDAY 0x07
#define MONTH 0x08
#define YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define CENTURY 0x32

static time_t fake_now;

static time_t get_fake_now(void *opaque)
{
	return *(time_t *)opaque;
}

static time_t utc(int year, int mon, int mday, int hour, int min, int sec)
{
	struct tm tm = {
		.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = mday,
		.tm_hour = hour, .tm_min = min, .tm_sec = sec,
	};

	return timegm(&tm);
}

static struct bus bus;

static uint8_t cmos_read(uint8_t idx)
{
	uint8_t v = 0;

	if (!bus_write(&bus, RTC_PORT_BASE, &idx, 1) || !bus_read(&bus, RTC_PORT_BASE + 1, &v, 1)) {
		failures++;
		fprintf(stderr, "rtc-test: CMOS port access unclaimed\n");
	}
	return v;
}

static void cmos_write(uint8_t idx, uint8_t v)
{
	if (!bus_write(&bus, RTC_PORT_BASE, &idx, 1) || !bus_write(&bus, RTC_PORT_BASE + 1, &v, 1)) {
		failures++;
		fprintf(stderr, "rtc-test: CMOS port access unclaimed\n");
	}
}

static void test_read_time(void)
{
	uint8_t v;

	/* 2026-11-21 05:57:34 UTC, a Saturday. */
	fake_now = utc(2026, 11, 21, 5, 57, 34);

	/* Power-on state: BCD, 24-hour; UIP clear; battery good. */
	CHECK_EQ(cmos_read(REG_B), 0x02);
	CHECK_EQ(cmos_read(REG_A), 0x26);
	CHECK_EQ(cmos_read(REG_A) & 0x80, 0);
	CHECK_EQ(cmos_read(REG_C), 0);
	CHECK_EQ(cmos_read(REG_D), 0x80);

	CHECK_EQ(cmos_read(SECONDS), 0x34);
	CHECK_EQ(cmos_read(MINUTES), 0x57);
	CHECK_EQ(cmos_read(HOURS), 0x05);
	CHECK_EQ(cmos_read(WDAY), 0x07);
	CHECK_EQ(cmos_read(MDAY), 0x21);
	CHECK_EQ(cmos_read(MONTH), 0x11);
	CHECK_EQ(cmos_read(YEAR), 0x26);
	CHECK_EQ(cmos_read(CENTURY), 0x20);

	/* Index bit 7 masks NMIs on real hardware and does not change the index. */
	CHECK_EQ(cmos_read(0x80 | SECONDS), 0x34);
	CHECK_EQ(cmos_read(0x80 | REG_D), 0x80);

	/* The clock follows the host clock on every read. */
	fake_now += 27;
	CHECK_EQ(cmos_read(SECONDS), 0x01);
	CHECK_EQ(cmos_read(MINUTES), 0x58);

	/* Binary mode. */
	fake_now = utc(2026, 11, 21, 5, 57, 34);
	cmos_write(REG_B, 0x02 | 0x04);
	CHECK_EQ(cmos_read(SECONDS), 34);
	CHECK_EQ(cmos_read(MINUTES), 57);
	CHECK_EQ(cmos_read(HOURS), 5);
	CHECK_EQ(cmos_read(WDAY), 7);
	CHECK_EQ(cmos_read(MDAY), 21);
	CHECK_EQ(cmos_read(MONTH), 11);
	CHECK_EQ(cmos_read(YEAR), 26);
	CHECK_EQ(cmos_read(CENTURY), 20);

	/* 12-hour mode: PM in bit 7, midnight and noon are 12. */
	cmos_write(REG_B, 0x00); /* BCD, 12-hour */
	CHECK_EQ(cmos_read(HOURS), 0x05);
	fake_now = utc(2026, 11, 21, 17, 0, 0);
	CHECK_EQ(cmos_read(HOURS), 0x85);
	fake_now = utc(2026, 11, 21, 0, 30, 0);
	CHECK_EQ(cmos_read(HOURS), 0x12);
	fake_now = utc(2026, 11, 21, 12, 30, 0);
	CHECK_EQ(cmos_read(HOURS), 0x92);
	cmos_write(REG_B, 0x04); /* binary, 12-hour */
	fake_now = utc(2026, 11, 21, 23, 0, 0);
	CHECK_EQ(cmos_read(HOURS), 0x80 | 11);
	cmos_write(REG_B, 0x02);

	/* Status registers: UIP never sticks, C and D ignore writes. */
	cmos_write(REG_A, 0xa6);
	CHECK_EQ(cmos_read(REG_A), 0x26);
	cmos_write(REG_C, 0xff);
	CHECK_EQ(cmos_read(REG_C), 0);
	cmos_write(REG_D, 0x00);
	CHECK_EQ(cmos_read(REG_D), 0x80);

	/* Alarms and plain CMOS RAM are storage. */
	cmos_write(0x01, 0x45);
	cmos_write(0x03, 0x30);
	cmos_write(0x05, 0x06);
	cmos_write(0x40, 0x5a);
	cmos_write(0x7f, 0xa5);
	CHECK_EQ(cmos_read(0x01), 0x45);
	CHECK_EQ(cmos_read(0x03), 0x30);
	CHECK_EQ(cmos_read(0x05), 0x06);
	CHECK_EQ(cmos_read(0x40), 0x5a);
	CHECK_EQ(cmos_read(0x7f), 0xa5);
	CHECK_EQ(cmos_read(0x80 | 0x40), 0x5a);

	/* The index port is write-only. */
	CHECK(bus_read(&bus, RTC_PORT_BASE, &v, 1));
	CHECK_EQ(v, 0xff);
}

static void test_set_time(void)
{
	fake_now = utc(2026, 11, 21, 5, 57, 34);
	cmos_write(REG_B, 0x02);

	/* Linux's mc146818_set_time(): SET, write the fields, clear SET. */
	cmos_write(REG_B, 0x02 | 0x80);
	cmos_write(YEAR, 0x30);
	cmos_write(MONTH, 0x01);
	cmos_write(MDAY, 0x02);
	cmos_write(HOURS, 0x03);
	cmos_write(MINUTES, 0x04);
	cmos_write(SECONDS, 0x05);
	cmos_write(CENTURY, 0x20);

	/* While SET is held the clock stands still at what was written. */
	fake_now += 10;
	CHECK_EQ(cmos_read(SECONDS), 0x05);
	CHECK_EQ(cmos_read(YEAR), 0x30);
	cmos_write(REG_B, 0x02);

	/* Now it runs from 2030-01-02 03:04:05, a Wednesday. */
	CHECK_EQ(cmos_read(SECONDS), 0x05);
	CHECK_EQ(cmos_read(MINUTES), 0x04);
	CHECK_EQ(cmos_read(HOURS), 0x03);
	CHECK_EQ(cmos_read(MDAY), 0x02);
	CHECK_EQ(cmos_read(MONTH), 0x01);
	CHECK_EQ(cmos_read(YEAR), 0x30);
	CHECK_EQ(cmos_read(CENTURY), 0x20);
	CHECK_EQ(cmos_read(WDAY), 0x04);
	fake_now += 65;
	CHECK_EQ(cmos_read(SECONDS), 0x10);
	CHECK_EQ(cmos_read(MINUTES), 0x05);
	/* Across midnight and the new year (2030-12-31 23:59:59 + 2s). */
	cmos_write(REG_B, 0x02 | 0x80 | 0x04);
	cmos_write(YEAR, 30);
	cmos_write(MONTH, 12);
	cmos_write(MDAY, 31);
	cmos_write(HOURS, 23);
	cmos_write(MINUTES, 59);
	cmos_write(SECONDS, 59);
	cmos_write(REG_B, 0x02 | 0x04);
	fake_now += 2;
	CHECK_EQ(cmos_read(SECONDS), 1);
	CHECK_EQ(cmos_read(MINUTES), 0);
	CHECK_EQ(cmos_read(HOURS), 0);
	CHECK_EQ(cmos_read(MDAY), 1);
	CHECK_EQ(cmos_read(MONTH), 1);
	CHECK_EQ(cmos_read(YEAR), 31);
	cmos_write(REG_B, 0x02);

	/* A field written without SET moves the clock at once. */
	cmos_write(MINUTES, 0x30);
	CHECK_EQ(cmos_read(MINUTES), 0x30);
	fake_now += 60;
	CHECK_EQ(cmos_read(MINUTES), 0x31);

	/* 12-hour writes: 11 PM. */
	cmos_write(REG_B, 0x80); /* SET, BCD, 12-hour */
	cmos_write(HOURS, 0x80 | 0x11);
	cmos_write(REG_B, 0x02);
	CHECK_EQ(cmos_read(HOURS), 0x23);

	/* Garbage from the guest is normalized, not trusted. */
	cmos_write(REG_B, 0x80 | 0x02);
	cmos_write(MONTH, 0xff);
	cmos_write(SECONDS, 0xff);
	cmos_write(REG_B, 0x02);
	CHECK(cmos_read(MONTH) <= 0x12);
	CHECK(cmos_read(SECONDS) <= 0x59);
}

int main(void)
{
	struct rtc *rtc = NULL, *rtc2 = NULL;

	if (bus_init(&bus, "pio") < 0 || rtc_create(get_fake_now, &fake_now, &rtc) < 0 ||
	    bus_insert(&bus, rtc_bus_device(rtc), RTC_PORT_BASE, RTC_PORT_LEN) < 0) {
		fprintf(stderr, "rtc-test: setup failed\n");
		return 1;
	}

	test_read_time();
	test_set_time();

	/* Without a clock function it reads the host's time. */
	CHECK_EQ(rtc_create(NULL, NULL, &rtc2), 0);
	if (rtc2) {
		struct bus_device *dev = rtc_bus_device(rtc2);
		uint8_t idx = CENTURY, v = 0;

		dev->ops->write(dev, 0, &idx, 1);
		dev->ops->read(dev, 1, &v, 1);
		CHECK_EQ(v, 0x20);
		rtc_destroy(rtc2);
	}

	rtc_destroy(rtc);
	bus_destroy(&bus);
	printf("rtc-test: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
