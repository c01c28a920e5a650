/* pk-ioctl: the device-file calls the shell cannot make, for chardev.ko's /dev/pkmisc.
 *
 *   pk-ioctl DEV reset            ioctl(_IO('k', 0))
 *   pk-ioctl DEV getlen           ioctl(_IOR('k', 1, int), &int)         prints the int
 *   pk-ioctl DEV setfill BYTE     ioctl(_IOW('k', 2, unsigned char), &byte)
 *   pk-ioctl DEV double INT       ioctl(_IOWR('k', 3, int), &int)         prints the int after
 *   pk-ioctl DEV setstr STRING    ioctl(_IOW('k', 4, char *), STRING)     the string itself, not its address
 *   pk-ioctl DEV getstr           ioctl(_IOR('k', 5, char *), buf)        prints the string read back
 *   pk-ioctl DEV nth N            ioctl(_IOWR('k', 6, int), N)            the number itself (chardev2's
 *                                                                         IOCTL_GET_NTH_BYTE): prints the return
 *   pk-ioctl DEV raw CMD [INT]    ioctl(CMD, &int), any command number
 *   pk-ioctl DEV poll             poll(POLLIN | POLLOUT, timeout 0)      prints revents
 *   pk-ioctl DEV write N [BYTE]   write(N bytes of BYTE, default 'x')
 *
 * DEV is opened O_RDWR. Prints "<call> = <ret>" then " <ERRNO NAME> (<message>)" when it
 * failed, and the value it reads back; exit status 0 when the call succeeded, 1 when it failed,
 * 2 on a usage error or when DEV cannot be opened. Built static by scripts/record-reference
 * for the real kernel under QEMU (tests/tools/pk-ioctl.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PK_MAGIC 'k'
#define PK_RESET _IO(PK_MAGIC, 0)
#define PK_GETLEN _IOR(PK_MAGIC, 1, int)
#define PK_SETFILL _IOW(PK_MAGIC, 2, unsigned char)
#define PK_DOUBLE _IOWR(PK_MAGIC, 3, int)
#define PK_SETSTR _IOW(PK_MAGIC, 4, char *)
#define PK_GETSTR _IOR(PK_MAGIC, 5, char *)
#define PK_NTH _IOWR(PK_MAGIC, 6, int)

static int usage(void)
{
	fprintf(stderr, "usage: pk-ioctl DEV reset|getlen|setfill BYTE|double INT|nth N|raw CMD [INT]|"
			"poll|write N [BYTE]\n");
	return 2;
}

static int report(const char *call, long r, int err)
{
	printf("%s = %ld", call, r);
	if (r < 0)
		printf(" %s (%s)", strerrorname_np(err), strerror(err));
	printf("\n");
	return r < 0;
}

int main(int argc, char **argv)
{
	char call[64];
	long r;
	int fd, rc, err;

	if (argc < 3)
		return usage();
	const char *op = argv[2];
	const char *arg = argc > 3 ? argv[3] : NULL;
	fd = open(argv[1], O_RDWR);
	if (fd < 0) {
		printf("open %s: %s (%s)\n", argv[1], strerrorname_np(errno), strerror(errno));
		return 2;
	}
	if (!strcmp(op, "reset")) {
		snprintf(call, sizeof(call), "ioctl(%#lx)", (unsigned long)PK_RESET);
		r = ioctl(fd, PK_RESET);
		return report(call, r, errno);
	}
	if (!strcmp(op, "getlen")) {
		int v = -1;

		snprintf(call, sizeof(call), "ioctl(%#lx)", (unsigned long)PK_GETLEN);
		r = ioctl(fd, PK_GETLEN, &v);
		err = errno;
		rc = report(call, r, err);
		printf("int: %d\n", v);
		return rc;
	}
	if (!strcmp(op, "setfill") && arg) {
		unsigned char b = (unsigned char)strtoul(arg, NULL, 0);

		snprintf(call, sizeof(call), "ioctl(%#lx)", (unsigned long)PK_SETFILL);
		r = ioctl(fd, PK_SETFILL, &b);
		return report(call, r, errno);
	}
	if (!strcmp(op, "setstr") && arg) {
		snprintf(call, sizeof(call), "ioctl(%#lx)", (unsigned long)PK_SETSTR);
		r = ioctl(fd, PK_SETSTR, arg);
		return report(call, r, errno);
	}
	if (!strcmp(op, "nth") && arg) {
		unsigned long n = strtoul(arg, NULL, 0);

		snprintf(call, sizeof(call), "ioctl(%#lx, %lu)", (unsigned long)PK_NTH, n);
		r = ioctl(fd, PK_NTH, n);
		return report(call, r, errno);
	}
	if (!strcmp(op, "getstr")) {
		char buf[512];

		memset(buf, '#', sizeof(buf) - 1);
		buf[sizeof(buf) - 1] = '\0';
		snprintf(call, sizeof(call), "ioctl(%#lx)", (unsigned long)PK_GETSTR);
		r = ioctl(fd, PK_GETSTR, buf);
		err = errno;
		rc = report(call, r, err);
		printf("string: \"%s\" (%zu bytes)\n", buf, strlen(buf));
		return rc;
	}
	if ((!strcmp(op, "double") && arg) || (!strcmp(op, "raw") && arg)) {
		unsigned long cmd = PK_DOUBLE;
		int v = arg ? atoi(arg) : 0;

		if (!strcmp(op, "raw")) {
			cmd = strtoul(arg, NULL, 0);
			v = argc > 4 ? atoi(argv[4]) : 0;
		}
		snprintf(call, sizeof(call), "ioctl(%#lx)", cmd);
		r = ioctl(fd, cmd, &v);
		err = errno;
		rc = report(call, r, err);
		printf("int: %d\n", v);
		return rc;
	}
	if (!strcmp(op, "poll")) {
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };

		r = poll(&p, 1, 0);
		err = errno;
		rc = report("poll", r, err);
		printf("revents: %#x%s%s\n", p.revents, p.revents & POLLIN ? " POLLIN" : "",
		       p.revents & POLLOUT ? " POLLOUT" : "");
		return rc;
	}
	if (!strcmp(op, "write") && arg) {
		size_t n = strtoul(arg, NULL, 0);
		char *buf = malloc(n ? n : 1);

		memset(buf, argc > 4 ? argv[4][0] : 'x', n);
		snprintf(call, sizeof(call), "write(%zu)", n);
		r = write(fd, buf, n);
		return report(call, r, errno);
	}
	return usage();
}
