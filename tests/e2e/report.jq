# Turns darkstab's JSON report into the lines tests/e2e/expected.awk prints,
# for the first analysis ([proto, dst_port]), so the two can be diffed.
def epoch:
  (.[0:19] + "Z" | fromdate) as $t
  | (if .[19:] == "Z" then 0
     else ((.[20:22] | tonumber) * 3600 + (.[23:25] | tonumber) * 60)
          * (if .[19:20] == "+" then 1 else -1 end) end) as $o
  | $t - $o;
def protonum:
  if . == "tcp" then 6 elif . == "udp" then 17 elif . == "icmp" then 1
  elif . == "ipv6-icmp" then 58 else . end;
def mean: if . == null then "-" else (. * 1000000 | round | tostring) end;

.analyses[0].slots[]
| (.start | epoch) as $day
| [.thresholds[] | .status] as $st
| ( [ $day, .packets, .flows, .groups,
      .thresholds[0].topn, .thresholds[1].topn, .thresholds[2].topn,
      $st[0], $st[1], $st[2],
      (.thresholds[] | (.direction // "-")),
      (.thresholds[] | (.mean | mean)) ]
    | map(tostring) | join(" ") ),
  ( if ($st | index("unstable")) then
      .top[] | ["top", $day, (.key.proto | protonum), .key.dst_port, .packets,
                .src_addrs, .dst_addrs] | map(tostring) | join(" ")
    else empty end )
