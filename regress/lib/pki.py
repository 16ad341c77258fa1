"""Test certificates, made with the openssl CLI (the one place tests do):

    ca = make_ca(d)                                 # (key, crt)
    crt, key = make_server_cert(d, "mx", ca, names)   # signed by ca
    crt, key = make_self_signed(d, names)
    ctx = client_context(cafile)                    # verifies the name

names is a list of DNS names and IP addresses for subjectAltName (the
first is also the CN).  Keys are made readable (0644): the gateway's
parent reads them, and as root they would be root's anyway."""

import ipaddress
import os
import ssl
import subprocess


def openssl(*args, stdin=None, cwd=None):
    r = subprocess.run(["openssl"] + list(args), capture_output=True,
                       text=True, timeout=60, input=stdin, cwd=cwd,
                       stdin=None if stdin is not None else
                       subprocess.DEVNULL)
    if r.returncode != 0:
        raise AssertionError("openssl %s: %s" % (args[0], r.stderr[-500:]))
    return r.stdout


def _san(names):
    out = []
    for n in names:
        try:
            ipaddress.ip_address(n)
            out.append("IP:" + n)
        except ValueError:
            out.append("DNS:" + n)
    return "subjectAltName=" + ",".join(out)


def make_ca(d, name="ca", cn="mxgate test CA"):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", key, "-out", crt, "-subj", "/CN=" + cn)
    return key, crt


def make_server_cert(d, name, ca, names):
    """A key and a certificate for names, signed by ca (key, crt)."""
    key = os.path.join(d, name + ".key")
    csr = os.path.join(d, name + ".csr")
    crt = os.path.join(d, name + ".crt")
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        f.write(_san(names) + "\nbasicConstraints=CA:FALSE\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
            "-out", csr, "-subj", "/CN=" + names[0])
    openssl("x509", "-req", "-in", csr, "-CA", ca[1], "-CAkey", ca[0],
            "-CAcreateserial", "-days", "2", "-out", crt, "-extfile", ext)
    os.chmod(key, 0o644)
    return crt, key


def make_self_signed(d, names, name="mx"):
    key, crt = os.path.join(d, name + ".key"), os.path.join(d, name + ".crt")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", key, "-out", crt, "-subj", "/CN=" + names[0],
            "-addext", _san(names))
    os.chmod(key, 0o644)
    return crt, key


def client_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = True
    return ctx
