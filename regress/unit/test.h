/*
 * Minimal unit-test output: one line per case, "ok - name" or
 * "not ok - name: why"; regress/run counts them.  t_exit() returns 1 if
 * any case failed.
 */
#ifndef MXGATE_TEST_H
#define MXGATE_TEST_H

#include <stdio.h>
#include <stdarg.h>

static int t_failed, t_passed;

static void __attribute__((format(printf, 3, 4), unused))
t_check(int cond, const char *name, const char *whyfmt, ...)
{
	va_list ap;

	if (cond) {
		printf("ok - %s\n", name);
		t_passed++;
		return;
	}
	printf("not ok - %s: ", name);
	va_start(ap, whyfmt);
	vprintf(whyfmt, ap);
	va_end(ap);
	printf("\n");
	t_failed++;
}

#define T_OK(cond, name)	t_check((cond), (name), "%s", #cond)

static int __attribute__((unused))
t_exit(void)
{
	fflush(stdout);
	return t_failed ? 1 : 0;
}

#endif
