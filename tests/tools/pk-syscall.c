/* pk-syscall: make the module system calls directly, with no kmod in between.
 *
 *   pk-syscall finit FILE [ARGS [FLAGS]]    finit_module(open(FILE), ARGS, FLAGS)
 *   pk-syscall init FILE [ARGS]             init_module(contents of FILE, size, ARGS)
 *   pk-syscall delete NAME [FLAGS]          delete_module(NAME, FLAGS); FLAGS default O_NONBLOCK
 *
 * Prints "<call>: 0" or "<call>: -1 <ERRNO NAME> (<message>)". Built static by scripts/qemu-names
 * for the real kernel under QEMU (tests/tools/pk-syscall.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int report(const char *call, long r)
{
	if (r == 0) {
		printf("%s: 0\n", call);
		return 0;
	}
	printf("%s: -1 %s (%s)\n", call, strerrorname_np(errno), strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pk-syscall finit|init|delete FILE|NAME [ARGS|FLAGS [FLAGS]]\n");
		return 2;
	}
	if (!strcmp(argv[1], "delete")) {
		unsigned long flags = argc > 3 ? strtoul(argv[3], NULL, 0) : O_NONBLOCK;
		return report("delete_module", syscall(SYS_delete_module, argv[2], flags));
	}
	const char *args = argc > 3 ? argv[3] : "";
	if (!strcmp(argv[1], "finit")) {
		int fd = open(argv[2], O_RDONLY);
		if (fd < 0) {
			perror(argv[2]);
			return 2;
		}
		unsigned long flags = argc > 4 ? strtoul(argv[4], NULL, 0) : 0;
		return report("finit_module", syscall(SYS_finit_module, fd, args, flags));
	}
	if (!strcmp(argv[1], "init")) {
		struct stat st;
		int fd = open(argv[2], O_RDONLY);
		if (fd < 0 || fstat(fd, &st) < 0) {
			perror(argv[2]);
			return 2;
		}
		char *buf = malloc(st.st_size + 1);
		ssize_t n = read(fd, buf, st.st_size);
		if (n < 0)
			n = 0;
		return report("init_module", syscall(SYS_init_module, buf, (unsigned long)n, args));
	}
	fprintf(stderr, "pk-syscall: unknown call %s\n", argv[1]);
	return 2;
}
