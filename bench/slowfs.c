// A file server stand-in for the bench (section `file-server`): a FUSE pass-through of SLOW_SRC that
// waits SLOW_US microseconds in every call a file server would answer over the network (getattr,
// open, readdir, readlink, read), with no kernel caching of attributes or names, so each `stat` is
// its round trips. Built by the bench with `gcc` and libfuse3 (Debian: fuse3, libfuse3-dev).
#define FUSE_USE_VERSION 31
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <limits.h>
static char src[PATH_MAX]; static useconds_t slow;
static void full(char *out, const char *p) { snprintf(out, PATH_MAX, "%s%s", src, p); }
static void rt(void) { if (slow) usleep(slow); }
static void *s_init(struct fuse_conn_info *c, struct fuse_config *cfg) { (void)c; cfg->use_ino = 1; cfg->attr_timeout = 0; cfg->entry_timeout = 0; cfg->negative_timeout = 0; cfg->kernel_cache = 0; return NULL; }
static int s_getattr(const char *p, struct stat *st, struct fuse_file_info *fi) { char f[PATH_MAX]; rt(); if (fi) return fstat(fi->fh, st) == -1 ? -errno : 0; full(f, p); return lstat(f, st) == -1 ? -errno : 0; }
static int s_readlink(const char *p, char *buf, size_t n) { char f[PATH_MAX]; rt(); full(f, p); ssize_t r = readlink(f, buf, n - 1); if (r == -1) return -errno; buf[r] = 0; return 0; }
static int s_readdir(const char *p, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags fl) {
  (void)off; (void)fi; (void)fl; char f[PATH_MAX]; rt(); full(f, p); DIR *d = opendir(f); if (!d) return -errno; struct dirent *e;
  while ((e = readdir(d))) { struct stat st; memset(&st, 0, sizeof st); st.st_ino = e->d_ino; st.st_mode = e->d_type << 12; if (fill(buf, e->d_name, &st, 0, 0)) break; }
  closedir(d); return 0; }
static int s_open(const char *p, struct fuse_file_info *fi) { char f[PATH_MAX]; rt(); full(f, p); int fd = open(f, fi->flags); if (fd == -1) return -errno; fi->fh = fd; return 0; }
static int s_read(const char *p, char *buf, size_t n, off_t off, struct fuse_file_info *fi) { (void)p; rt(); ssize_t r = pread(fi->fh, buf, n, off); return r == -1 ? -errno : (int)r; }
static int s_release(const char *p, struct fuse_file_info *fi) { (void)p; close(fi->fh); return 0; }
static int s_statfs(const char *p, struct statvfs *st) { char f[PATH_MAX]; full(f, p); return statvfs(f, st) == -1 ? -errno : 0; }
static int s_access(const char *p, int m) { char f[PATH_MAX]; full(f, p); return access(f, m) == -1 ? -errno : 0; }
static const struct fuse_operations ops = { .init = s_init, .getattr = s_getattr, .readlink = s_readlink, .readdir = s_readdir, .open = s_open, .read = s_read, .release = s_release, .statfs = s_statfs, .access = s_access };
int main(int argc, char *argv[]) { const char *s = getenv("SLOW_SRC"); if (!s) { fprintf(stderr, "SLOW_SRC?\n"); return 2; } realpath(s, src); slow = getenv("SLOW_US") ? atoi(getenv("SLOW_US")) : 0; return fuse_main(argc, argv, &ops, NULL); }
