/*
 * Test hooks: in a build made with -DMXGATE_TEST_HOOKS (the test build in
 * regress/build/, never `make all`), `smtpctl test hook WORKER ACTION`
 * makes a worker do something it must not be able to do, so a test can
 * watch the sandbox and the supervision react:
 *
 *   open             open /etc/passwd read-only
 *   create           create a file at an absolute path (/mxgate-test-hook)
 *   exec             execve /bin/sh
 *   socket           open an AF_INET socket
 *   badframe-peer    write a frame shorter than its header to every peer
 *   badtype-peer     send every peer a message type it never accepts
 *   badframe-parent, badtype-parent    the same towards the parent
 *
 * In a release build test_hook_valid() is always 0 and worker_test_hook()
 * fails the parent link like any unexpected message.
 */
#ifndef MXGATE_TEST_HOOK_H
#define MXGATE_TEST_HOOK_H

struct imsgev;
struct imsg;

/* 1 if this build has test hooks and `action` is one of them. */
int	test_hook_valid(const char *action);
/* A worker's handling of IMSG_CTL_TEST_HOOK from the parent. */
void	worker_test_hook(struct imsgev *parent, struct imsg *);

#endif
