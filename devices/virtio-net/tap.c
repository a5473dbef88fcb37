/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The tap backend (see tap.h). Everything here runs at create or activate
 * time on the VMM's threads; the data path only reads and writes the fds.
 */
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"

#define TUN_PATH "/dev/net/tun"

void net_tap_init(struct net_tap *tap)
{
	memset(tap, 0, sizeof(*tap));
	for (unsigned int i = 0; i < NET_TAP_MAX_QUEUES; i++)
		tap->fds[i] = -1;
}

void net_tap_close(struct net_tap *tap)
{
	if (!tap)
		return;
	for (unsigned int i = 0; i < NET_TAP_MAX_QUEUES; i++) {
		if (tap->fds[i] >= 0)
			close(tap->fds[i]);
		tap->fds[i] = -1;
	}
	tap->nr_queues = 0;
}

/* Open one queue of the tap `name` (a template on the first call). */
static int tap_open_queue(const char *name, bool multi_queue, char ret_name[IFNAMSIZ],
			  const char **ret_step)
{
	struct ifreq ifr;
	unsigned int features = 0;
	int hdr_len = NET_TAP_VNET_HDR_LEN;
	int le = 1;
	_cleanup_close_ int fd = -1;

	fd = open(TUN_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		*ret_step = "cannot open " TUN_PATH;
		return -errno;
	}
	/* a clear message on kernels without what we need, rather than EINVAL */
	if (ioctl(fd, TUNGETFEATURES, &features) < 0) {
		*ret_step = "cannot query tap features";
		return -errno;
	}
	if (!(features & IFF_VNET_HDR) || (multi_queue && !(features & IFF_MULTI_QUEUE))) {
		*ret_step = multi_queue ? "kernel tap lacks IFF_VNET_HDR or IFF_MULTI_QUEUE"
					: "kernel tap lacks IFF_VNET_HDR";
		return -EOPNOTSUPP;
	}

	memset(&ifr, 0, sizeof(ifr));
	if (name)
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (multi_queue ? IFF_MULTI_QUEUE : 0);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		*ret_step = "cannot create tap device";
		return -errno;
	}
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0) {
		*ret_step = "cannot set the virtio-net header size";
		return -errno;
	}
	/*
	 * VERSION_1 headers are little-endian. On x86 that is the tap's default
	 * already; say so explicitly where the kernel can (it may not know the
	 * ioctl without cross-endian support, which changes nothing here).
	 */
	if (ioctl(fd, TUNSETVNETLE, &le) < 0)
		log_debug_errno(-errno, "tap %s: TUNSETVNETLE failed (ignored)", ifr.ifr_name);

	memcpy(ret_name, ifr.ifr_name, IFNAMSIZ);
	ret_name[IFNAMSIZ - 1] = '\0';
	return TAKE_FD(fd);
}

int net_tap_open(struct net_tap *tap, const char *name, unsigned int nr_queues,
		 const char **ret_step)
{
	bool multi_queue = nr_queues > 1;
	const char *step = "invalid tap configuration";
	int r;

	net_tap_init(tap);
	if (nr_queues == 0 || nr_queues > NET_TAP_MAX_QUEUES) {
		*ret_step = step;
		return -EINVAL;
	}
	if (name && strlen(name) >= IFNAMSIZ) {
		*ret_step = "tap name too long";
		return -ENAMETOOLONG;
	}

	for (unsigned int i = 0; i < nr_queues; i++) {
		/* after the first queue, attach to the name the kernel chose */
		r = tap_open_queue(i == 0 ? name : tap->ifname, multi_queue, tap->ifname, &step);
		if (r < 0) {
			net_tap_close(tap);
			*ret_step = step;
			return r;
		}
		tap->fds[i] = r;
		tap->nr_queues = i + 1;
	}
	log_debug("tap %s: opened with %u queue(s)", tap->ifname, nr_queues);
	return 0;
}

int net_tap_adopt(struct net_tap *tap, const int *fds, unsigned int nr_queues)
{
	int r;

	net_tap_init(tap);
	if (nr_queues == 0 || nr_queues > NET_TAP_MAX_QUEUES)
		return -EINVAL;
	tap->test_backend = true;
	for (unsigned int i = 0; i < nr_queues; i++) {
		int fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
		int fl;

		if (fd < 0)
			goto fail_errno;
		tap->fds[i] = fd;
		tap->nr_queues = i + 1;
		/* the data path relies on EAGAIN, as with the real tap */
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			goto fail_errno;
	}
	return 0;

fail_errno:
	r = -errno;
	net_tap_close(tap);
	return r;
}

static int set_inet_addr(int sock, const char *ifname, unsigned long req, const char *addr)
{
	struct ifreq ifr;
	struct sockaddr_in sin = { .sin_family = AF_INET };

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return -EINVAL;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	if (ioctl(sock, req, &ifr) < 0)
		return -errno;
	return 0;
}

int net_tap_configure_host(struct net_tap *tap, const char *ip, const char *mask,
			   const char **ret_step)
{
	_cleanup_close_ int sock = -1;
	struct ifreq ifr;
	int r;

	if (tap->test_backend)
		return 0;
	/* the SIOCSIF* ioctls want any AF_INET socket, not the tap fd */
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0) {
		*ret_step = "cannot open an AF_INET socket";
		return -errno;
	}
	if (ip) {
		r = set_inet_addr(sock, tap->ifname, SIOCSIFADDR, ip);
		if (r < 0) {
			*ret_step = "cannot set the host IP address";
			return r;
		}
	}
	if (mask) {
		r = set_inet_addr(sock, tap->ifname, SIOCSIFNETMASK, mask);
		if (r < 0) {
			*ret_step = "cannot set the host netmask";
			return r;
		}
	}

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap->ifname);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
		*ret_step = "cannot read the link flags";
		return -errno;
	}
	ifr.ifr_flags |= IFF_UP; /* IFF_RUNNING follows the carrier: ours to read only */
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) {
		*ret_step = "cannot set the link up";
		return -errno;
	}
	return 0;
}

int net_tap_set_offload(struct net_tap *tap, unsigned int tun_flags)
{
	if (tap->test_backend || tap->nr_queues == 0)
		return 0;
	/* device-wide; queue 0 is never detached, so its fd always works */
	if (ioctl(tap->fds[0], TUNSETOFFLOAD, (unsigned long)tun_flags) < 0)
		return -errno;
	return 0;
}

int net_tap_set_queue_enabled(struct net_tap *tap, unsigned int queue, bool enable)
{
	struct ifreq ifr;

	if (tap->test_backend || tap->nr_queues <= 1 || queue >= tap->nr_queues)
		return 0;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = enable ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	if (ioctl(tap->fds[queue], TUNSETQUEUE, &ifr) < 0) {
		/* attaching an attached queue (or detaching a detached one) is
		 * EINVAL: the state we want is already there */
		if (errno == EINVAL)
			return 0;
		return -errno;
	}
	return 0;
}
