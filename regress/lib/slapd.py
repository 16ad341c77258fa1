"""A real OpenLDAP slapd for a test, on 127.0.0.1 and a free port.

    d = Slapd(tmpdir, AD_LDIF)       # slapd.conf + mdb database, loaded
    try:
        d.start()                    # waits until it answers a search
        ... d.url, d.port ...
        d.stop()                     # SIGTERM by PID, then SIGKILL
        d.start()                    # same data, same port
    finally:
        d.cleanup()                  # stops it, removes nothing it shares

Everything lives under tmpdir/slapd-NAME/ (config, database, pid file);
the data are loaded offline with slapadd.  The AD look-alike schema is
regress/ldap/ad.schema.  With tls=(cert, key, ca) slapd offers StartTLS,
and ldaps:// on a second port (ldaps_url).
Needs Debian's slapd (/usr/sbin/slapd) and ldap-utils (ldapsearch).
"""

import atexit
import os
import signal
import subprocess
import time

from sink import free_port
from tap import Failure

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(os.path.dirname(HERE), "ldap", "ad.schema")
SUFFIX = "dc=example,dc=com"
ROOTDN = "cn=admin," + SUFFIX
ROOTPW = "rootsecret"
BIND_DN = "cn=mxgate,ou=Service," + SUFFIX
BIND_PW = "s3cret-bind"

_live = []


def _cleanup_all():
    for d in list(_live):
        d.stop()


atexit.register(_cleanup_all)

CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include %(schema)s
pidfile %(dir)s/slapd.pid
argsfile %(dir)s/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
%(tls)s
database mdb
maxsize 10485760
suffix "%(suffix)s"
rootdn "%(rootdn)s"
rootpw %(rootpw)s
directory %(dir)s/db
index objectClass,mail,proxyAddresses eq
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"""

BASE_LDIF = """\
dn: %(suffix)s
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=Service,%(suffix)s
objectClass: organizationalUnit
ou: Service

dn: %(binddn)s
objectClass: person
cn: mxgate
sn: gateway
userPassword: %(bindpw)s

"""


class Slapd:
    def __init__(self, tmpdir, ldif, name="a", tls=None, port=None):
        self.dir = os.path.join(tmpdir, "slapd-" + name)
        self.port = port or free_port()
        self.url = "ldap://127.0.0.1:%d" % self.port
        self.proc = None
        self.tls = tls
        # with TLS, also ldaps:// on a second port
        self.ldaps_url = tls and "ldaps://127.0.0.1:%d" % free_port()
        os.makedirs(os.path.join(self.dir, "db"), mode=0o700)
        tls_text = ""
        if tls:
            tls_text = ("TLSCertificateFile %s\nTLSCertificateKeyFile %s\n"
                        "TLSCACertificateFile %s\n" % tls)
        self.conf = os.path.join(self.dir, "slapd.conf")
        with open(self.conf, "w") as f:
            f.write(CONF % {"schema": SCHEMA, "dir": self.dir,
                            "suffix": SUFFIX, "rootdn": ROOTDN,
                            "rootpw": ROOTPW, "tls": tls_text})
        data = os.path.join(self.dir, "data.ldif")
        with open(data, "w") as f:
            f.write(BASE_LDIF % {"suffix": SUFFIX, "binddn": BIND_DN,
                                 "bindpw": BIND_PW})
            f.write(ldif)
        r = subprocess.run([SLAPADD, "-f", self.conf, "-l", data],
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise Failure("slapadd: exit %d" % r.returncode,
                          r.stderr[-2000:])
        _live.append(self)

    def start(self, timeout=20.0):
        """Start slapd in the foreground (-d 0) and wait until a search
        as the service account answers."""
        if self.running():
            return self
        log = open(os.path.join(self.dir, "slapd.log"), "ab")
        self.proc = subprocess.Popen(
            [SLAPD, "-d", "0", "-f", self.conf, "-h",
             self.url + "/" + (" " + self.ldaps_url + "/" if self.tls
                               else "")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure("slapd exited with status %d"
                              % self.proc.returncode, self.log()[-2000:])
            env = dict(os.environ)
            tls = []
            if self.tls:
                env["LDAPTLS_CACERT"] = self.tls[2]
                tls = ["-ZZ"]
            r = subprocess.run(
                ["ldapsearch", "-x", "-H", self.url, "-D", BIND_DN,
                 "-w", BIND_PW, "-b", SUFFIX, "-s", "base", "dn"] + tls,
                capture_output=True, timeout=10, stdin=subprocess.DEVNULL,
                env=env)
            if r.returncode == 0:
                return self
            time.sleep(0.1)
        self.stop()
        raise Failure("slapd did not answer within %gs" % timeout,
                      self.log()[-2000:])

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stop it by its PID (SIGKILL stops it the hard way)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None

    def log(self):
        try:
            with open(os.path.join(self.dir, "slapd.log"), errors="replace") \
                    as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        if self in _live:
            _live.remove(self)
