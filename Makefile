# mxgate — plain Makefile.  `make run` and `make check` are the README's
# two commands; both install what is missing first (Debian, as root).

PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
LIBEXECDIR	?= $(PREFIX)/libexec/mxgate
SYSCONFDIR	?= $(PREFIX)/etc/mxgate
MANDIR		?= $(PREFIX)/share/man
DESTDIR		?=

.DEFAULT_GOAL	:= all

CC		?= cc
YACC		?= byacc
CFLAGS		?= -O2 -g
HARDEN		 = -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
WARN		 = -Wall -Wextra -Werror -Wno-unused-parameter
DEFS		 = -D_GNU_SOURCE -DLIBEXECDIR='"$(LIBEXECDIR)"' \
		   -DSYSCONFDIR='"$(SYSCONFDIR)"'
ALL_CFLAGS	 = -std=c11 $(WARN) $(HARDEN) $(DEFS) -Icommon -MMD -MP $(CFLAGS)
ALL_LDFLAGS	 = -pie -Wl,-z,relro,-z,now $(LDFLAGS)
LIBS_BASE	 = -levent -lbsd -lseccomp
LIBS_TLS	 = -ltls
LIBS_LDAP	 = -lldap -llber
LIBS_CDB	 = -lcdb
LIBS_CRYPT	 = -lcrypt

COMMON_SRCS	 = $(filter-out common/parse.c,$(wildcard common/*.c)) common/parse.c
COMMON_OBJS	 = $(COMMON_SRCS:.c=.o)

# Each process dir: <dir>/<main>.c holds main(); everything else goes into
# <dir>/lib<dir>.a so unit tests can link single modules.
define procdir
$(1)_MAIN	 = $(1)/$(2).c
$(1)_SRCS	 = $$(filter-out $(1)/$(2).c $(3),$$(wildcard $(1)/*.c))
$(1)_OBJS	 = $$($(1)_SRCS:.c=.o)
$(1)/lib$(1).a: $$($(1)_OBJS)
	rm -f $$@
	ar rcs $$@ $$^
endef

# the parent lives in smtpd/ too: smtpd.c (main), parent_*.c, control.c
PARENT_SRCS	 = smtpd/smtpd.c $(wildcard smtpd/parent_*.c) smtpd/control.c

$(eval $(call procdir,smtpd,smtp,$(PARENT_SRCS)))
$(eval $(call procdir,lookupd,lookupd))
$(eval $(call procdir,queued,queued))
$(eval $(call procdir,mtad,mtad))
$(eval $(call procdir,smtpctl,smtpctl))

PROGS		 = smtpd/smtpd smtpd/mxgate-smtpd lookupd/mxgate-lookupd \
		   queued/mxgate-queued mtad/mxgate-mtad smtpctl/smtpctl
LIBS_PROC	 = smtpd/libsmtpd.a lookupd/liblookupd.a queued/libqueued.a \
		   mtad/libmtad.a smtpctl/libsmtpctl.a

UNIT_SRCS	 = $(wildcard regress/unit/test_*.c)
UNIT_PROGS	 = $(UNIT_SRCS:.c=)

all: $(PROGS)

common/parse.c: common/parse.y
	$(YACC) -d -o common/parse.c common/parse.y

common/conf.o: common/parse.c
common/libcommon.a: $(COMMON_OBJS)
	rm -f $@
	ar rcs $@ $^

%.o: %.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

common/parse.o: common/parse.c
	$(CC) $(ALL_CFLAGS) -Wno-sign-compare -Wno-unused-but-set-variable -c -o $@ $<

smtpd/smtpd: $(PARENT_SRCS:.c=.o) common/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(PARENT_SRCS:.c=.o) common/libcommon.a $(LIBS_TLS) $(LIBS_BASE)
smtpd/mxgate-smtpd: smtpd/smtp.o smtpd/libsmtpd.a common/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_TLS) $(LIBS_BASE)
lookupd/mxgate-lookupd: lookupd/lookupd.o lookupd/liblookupd.a common/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_LDAP) $(LIBS_CDB) $(LIBS_CRYPT) \
	    $(LIBS_BASE)
queued/mxgate-queued: queued/queued.o queued/libqueued.a common/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_BASE)
mtad/mxgate-mtad: mtad/mtad.o mtad/libmtad.a common/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_TLS) $(LIBS_BASE)
smtpctl/smtpctl: smtpctl/smtpctl.o smtpctl/libsmtpctl.a common/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_LDAP) $(LIBS_CDB) $(LIBS_BASE)

regress/unit/test_%: regress/unit/test_%.o $(LIBS_PROC) common/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(LIBS_PROC) common/libcommon.a \
	    $(LIBS_TLS) $(LIBS_LDAP) $(LIBS_CDB) $(LIBS_CRYPT) $(LIBS_BASE)

unit: $(UNIT_PROGS)

# The test build: every program again, with -DMXGATE_TEST_HOOKS (see
# common/test_hook.h), objects and binaries under regress/build/ only.
# `make all` never has the hooks; `make check` builds both.
TB		 = regress/build
TB_CFLAGS	 = $(ALL_CFLAGS) -DMXGATE_TEST_HOOKS
TB_PROGS	 = $(addprefix $(TB)/,$(PROGS))
TB_COMMON	 = $(TB)/common/libcommon.a
TB_PARENT	 = $(addprefix $(TB)/,$(PARENT_SRCS:.c=.o))
# every library for every program (each LIBS_* variable but the
# archives, LIBS_BASE last), so a library a release link line gains is
# never missing here
TB_LIBS		 = $(foreach v,$(sort $(filter-out LIBS_PROC LIBS_BASE,\
		   $(filter LIBS_%,$(.VARIABLES)))),$($(v))) $(LIBS_BASE)
tb_prog		 = $(TB)/$(1)/$(2).o $(TB)/$(1)/lib$(1).a $(TB_COMMON)

$(TB)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(TB_CFLAGS) -c -o $@ $<
$(TB)/common/parse.o: common/parse.c
	@mkdir -p $(@D)
	$(CC) $(TB_CFLAGS) -Wno-sign-compare -Wno-unused-but-set-variable -c -o $@ $<
$(TB)/common/conf.o: common/parse.c
$(TB)/common/libcommon.a: $(addprefix $(TB)/,$(COMMON_OBJS))
	rm -f $@
	ar rcs $@ $^
$(TB)/%.a:
	rm -f $@
	ar rcs $@ $^
$(foreach d,smtpd lookupd queued mtad smtpctl,\
    $(eval $(TB)/$(d)/lib$(d).a: $(addprefix $(TB)/,$($(d)_OBJS))))

$(TB)/smtpd/smtpd: $(TB_PARENT) $(TB_COMMON)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TB_LIBS)
$(TB)/smtpd/mxgate-smtpd: $(call tb_prog,smtpd,smtp)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TB_LIBS)
$(TB)/lookupd/mxgate-lookupd: $(call tb_prog,lookupd,lookupd)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TB_LIBS)
$(TB)/queued/mxgate-queued: $(call tb_prog,queued,queued)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TB_LIBS)
$(TB)/mtad/mxgate-mtad: $(call tb_prog,mtad,mtad)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TB_LIBS)
$(TB)/smtpctl/smtpctl: $(call tb_prog,smtpctl,smtpctl)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(TB_LIBS)

testbuild: $(TB_PROGS)

deps:
	@sh .ci/deps build

test-deps:
	@sh .ci/deps test

users:
	@sh .ci/users

run: deps all users
	./smtpd/smtpd -d -f etc/mxgate.conf -B .

check: test-deps users
	$(MAKE) all unit testbuild
	@sh regress/run

# Not part of check: each has its own time budget.
fuzz: test-deps
	@sh regress/fuzz/run

asan: test-deps users
	@sh regress/asan

bench: test-deps users
	$(MAKE) all bench/lookups_bench
	@sh bench/run

# bench/lookups.py: lookupd's cdb backend alone, through the table API
bench/lookups_bench.o: bench/lookups_bench.c
	$(CC) $(ALL_CFLAGS) -Ilookupd -c -o $@ $<
bench/lookups_bench: bench/lookups_bench.o lookupd/liblookupd.a common/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_LDAP) $(LIBS_CDB) $(LIBS_BASE)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR) \
	    $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 755 smtpd/smtpd $(DESTDIR)$(SBINDIR)/smtpd
	install -m 755 smtpctl/smtpctl $(DESTDIR)$(SBINDIR)/smtpctl
	install -m 755 smtpd/mxgate-smtpd lookupd/mxgate-lookupd \
	    queued/mxgate-queued mtad/mxgate-mtad $(DESTDIR)$(LIBEXECDIR)/
	for f in mxgate.conf relay_domains relay_recipients virtual transport; do \
	    [ -e $(DESTDIR)$(SYSCONFDIR)/$$f ] || \
	    install -m 644 etc/$$f $(DESTDIR)$(SYSCONFDIR)/$$f; done
	install -m 644 smtpd/smtpd.8 smtpctl/smtpctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 etc/mxgate.conf.5 $(DESTDIR)$(MANDIR)/man5/

clean:
	rm -f $(PROGS) $(UNIT_PROGS) common/parse.c common/parse.h \
	    */*.o */*.d */*.a regress/unit/*.o regress/unit/*.d \
	    bench/lookups_bench
	rm -rf regress/tmp $(TB)

.PHONY: all unit testbuild deps test-deps users run check fuzz asan bench install clean
.SUFFIXES:
.SECONDARY:

-include $(wildcard $(addsuffix /*.d,common smtpd lookupd queued mtad smtpctl regress/unit))
-include $(wildcard $(TB)/*/*.d)
