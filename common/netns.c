#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>
#include <linux/nsfs.h>

#include "err.h"

static const char *ns_type_name(int type)
{
	switch (type) {
	case CLONE_NEWNS: return "mount";
	case CLONE_NEWUTS: return "uts";
	case CLONE_NEWIPC: return "ipc";
	case CLONE_NEWUSER: return "user";
	case CLONE_NEWPID: return "pid";
	case CLONE_NEWCGROUP: return "cgroup";
#ifdef CLONE_NEWTIME
	case CLONE_NEWTIME: return "time";
#endif
	default: return "non-network";
	}
}

int netns_open(const char *path, int *ret_fd)
{
	struct statfs sfs;
	int fd = -1, type, r;

	if (!path || !*path)
		return err_set(-EINVAL, "netns path \"\": empty");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		r = err_set(r, "netns \"%s\": %s", path, strerror(-r));
		goto errout;
	}
	if (fstatfs(fd, &sfs) < 0) {
		r = -errno;
		r = err_set(r, "netns \"%s\": %s", path, strerror(-r));
		goto errout;
	}
	/* a /run/netns file whose bind mount is gone is a plain tmpfs file */
	if (sfs.f_type != NSFS_MAGIC) {
		r = err_set(-EINVAL, "netns \"%s\": not a namespace file", path);
		goto errout;
	}
	type = ioctl(fd, NS_GET_NSTYPE);
	if (type < 0) {
		r = -errno;
		r = err_set(r, "netns \"%s\": NS_GET_NSTYPE: %s", path, strerror(-r));
		goto errout;
	}
	if (type != CLONE_NEWNET) {
		r = err_set(-EINVAL, "netns \"%s\": a %s namespace, not a network namespace", path,
			    ns_type_name(type));
		goto errout;
	}
	*ret_fd = fd;
	fd = -1;
	r = 0;
errout:
	if (fd >= 0)
		(void)close(fd);
	return r;
}

int netns_open_current(int *ret_fd)
{
	/* thread-self: setns() moves only the calling thread */
	return netns_open("/proc/thread-self/ns/net", ret_fd);
}

int netns_enter(int fd, int *ret_orig_fd)
{
	int orig = -1, r;

	r = netns_open_current(&orig);
	if (r < 0)
		return err_wrap(r, "enter netns");
	if (setns(fd, CLONE_NEWNET) < 0) {
		r = -errno;
		(void)close(orig);
		return err_set(r, "enter netns (fd %d): setns: %s", fd, strerror(-r));
	}
	*ret_orig_fd = orig;
	return 0;
}

int netns_leave(int orig_fd)
{
	int r = 0;

	if (setns(orig_fd, CLONE_NEWNET) < 0) {
		r = -errno;
		r = err_set(r, "return to the original netns: setns: %s", strerror(-r));
	}
	(void)close(orig_fd);
	return r;
}

int netns_run(int fd, int (*fn)(void *userdata), void *userdata)
{
	int orig, r, q;

	r = netns_enter(fd, &orig);
	if (r < 0)
		return r;
	r = fn(userdata);
	q = netns_leave(orig);
	return q < 0 ? q : r;
}
