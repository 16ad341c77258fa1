/* smtpctl ldap-export: see ldap_export.c. */
#ifndef MXGATE_LDAP_EXPORT_H
#define MXGATE_LDAP_EXPORT_H

/* argv: "ldap-export" ldapconf outfile; the exit status. */
int	ldap_export_main(int argc, char **argv);

#endif
