# The datagrams that "darkstab-gen --send" must send for the records of
# its truth CSV (start_ms,end_ms,ip_version,...), computed from the rules
# written at the top of samples/gen/send.c alone.
#
#   awk -F, -v format=ipfix|netflow9 -f datagrams.awk truth.csv
#
# IPFIX (as libfixbuf's UDP exporter): a first message with the two
# templates only; then messages of at most 1420 bytes: a 16-byte header,
# sets of a 4-byte header and records of 48 bytes (IPv4) or 72 (IPv6), a
# new set whenever the record's template changes; after every 20000th
# record the message ends and a message with the templates follows.
#
# NetFlow v9: datagrams of at most 1400 bytes: a 20-byte header, the
# template flowset (100 bytes: two templates of 11 fields) when the
# sequence number is a multiple of 20, flowsets of a 4-byte header and
# records of 40 bytes (IPv4) or 64 (IPv6).  The exporter boots at the first
# record's start (whole second), and again, sequence from 0, when a
# datagram's sysUptime (its latest record end rounded up to a second,
# never less than the previous datagram's, minus the boot time) would not
# fit 32 bits.
#
# Prints "datagrams N template_datagrams N restarts N".
BEGIN {
    v9 = format == "netflow9"
    max = v9 ? 1400 : 1420
    boot = -1
    len = 0
    seq = 0
    hdr = 0
    if (!v9) {
        datagrams = 1
        template_datagrams = 1
    }
}

function finish() {
    if (len == 0)
        return
    if (dghdr > hdr)
        hdr = dghdr
    datagrams++
    if (tmpl)
        template_datagrams++
    seq++
    len = 0
}

{
    tid = $3 == 6 ? 257 : 256
    if (v9)
        rlen = $3 == 6 ? 64 : 40
    else
        rlen = $3 == 6 ? 72 : 48
    e = int(($2 + 999) / 1000) * 1000
    h = hdr
    if (len > 0 && dghdr > h)
        h = dghdr
    if (e > h)
        h = e
    if (v9 && (boot < 0 || $1 < boot || h - boot > 4294967295)) {
        finish()
        if (boot >= 0)
            restarts++
        boot = int($1 / 1000) * 1000
        seq = 0
        hdr = 0
    }
    if (len > 0 && (set == tid ? len : len + 4) + rlen > max)
        finish()
    if (len == 0) {
        len = v9 ? 20 : 16
        set = 0
        dghdr = 0
        tmpl = v9 && seq % 20 == 0
        if (tmpl)
            len += 100
    }
    if (set != tid) {
        len += 4
        set = tid
    }
    len += rlen
    if (e > dghdr)
        dghdr = e
    if (!v9 && ++records % 20000 == 0) {
        finish()
        datagrams++
        template_datagrams++
    }
}

END {
    finish()
    printf "datagrams %d template_datagrams %d restarts %d\n", datagrams, template_datagrams,
        restarts
}
