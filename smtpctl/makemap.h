/*
 * smtpctl makemap FILE: compile a Postfix-format table (common/tablefile.h)
 * into FILE.cdb, a constant database (tinycdb) for a `table NAME
 * cdb:FILE.cdb` of the config.  Runs locally, without the daemon.
 */
#ifndef MXGATE_MAKEMAP_H
#define MXGATE_MAKEMAP_H

#include <stddef.h>

/*
 * Reads src whole (keys lowercased by the parser; a duplicate key keeps
 * its first entry, with a warning on stderr), writes dst through a
 * temporary file in the same directory, fsyncs it, renames it into place
 * and fsyncs the directory: dst is the old database or the new one,
 * never a mix.  0 with the number of entries in *nentries, or -1 with
 * "file:line: why" (or "file: why") in err; dst is then untouched.
 */
int	makemap(const char *src, const char *dst, size_t *nentries,
	    char *err, size_t errsz);
/* `smtpctl makemap FILE` (argv[0] is "makemap"); the exit status. */
int	makemap_main(int argc, char **argv);

#endif
