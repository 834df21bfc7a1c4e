#!/bin/bash
# The phases of scripts/install-test.sh, run INSIDE the clean Debian 12 root (as its root user,
# in a bubblewrap sandbox). Only installed files are used: /usr/bin/{enarx,steward,drawbridge},
# the units in /lib/systemd/system, the conffiles in /etc/{steward,drawbridge}.
#   install-test-inner.sh install-prev|state|upgrade|flow|systemd|lifecycle
# (systemd: run inside the root booted with systemd-nspawn; the others in a bubblewrap sandbox)
set -euo pipefail
phase="$1"
ok() { printf '    \033[32mok\033[0m %s\n' "$*"; }
die() { printf '\033[31mFAILED: %s\033[0m\n' "$*" >&2; for f in /var/tmp/it/*.log; do [[ -f $f ]] && { echo "--- $f"; tail -20 "$f"; }; done >&2; exit 1; }
mkdir -p /var/tmp/it
apt_install() { apt-get install -y -q -o Dpkg::Options::=--force-confold --no-install-recommends "$@" >/var/tmp/it/apt.log 2>&1 || die "apt-get install $*"; }
version_of() { dpkg-query -W -f='${Version}' "$1"; }
wait_port() {  # port seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Starts a service the way its installed unit does (there is no systemd PID 1 in the sandbox):
# ExecStart's command line, as User=/Group=, with Environment= and UMask=. The unit's sandboxing
# (ProtectSystem=, SystemCallFilter=, ...) is not applied here; systemd-analyze checked it.
start_unit() {  # name
  local unit="/lib/systemd/system/$1.service" exec user group umask envs=()
  exec="$(sed -n 's/^ExecStart=//p' "$unit")"
  user="$(sed -n 's/^User=//p' "$unit")"; group="$(sed -n 's/^Group=//p' "$unit")"
  umask="$(sed -n 's/^UMask=//p' "$unit")"
  while IFS= read -r e; do envs+=("$e"); done < <(sed -n 's/^Environment=//p' "$unit")
  [[ -n "$exec" && -n "$user" ]] || die "$unit: no ExecStart= or User="
  echo "    $1: ExecStart=$exec (User=$user${envs:+, Environment=${envs[*]}})"
  # shellcheck disable=SC2086  # ExecStart is split on spaces, like systemd does for our units
  (umask "${umask:-0022}"; exec setpriv --reuid="$user" --regid="${group:-$user}" --init-groups \
     env "${envs[@]}" $exec) >>"/var/tmp/it/$1.log" 2>&1 &
  echo $! >"/var/tmp/it/$1.pid"
}
stop_unit() { kill "$(cat "/var/tmp/it/$1.pid")" 2>/dev/null || true; sleep 0.5; }

SP=3000 DP=8443 WP=8080
host="localhost:$DP"
sim=/var/lib/enarx-sim

start_both() {
  start_unit steward
  wait_port $SP 30 || die "steward did not start"
  ok "steward listens on $SP"
  start_unit drawbridge
  wait_port $DP 30 || die "drawbridge did not start"
  ok "drawbridge listens on $DP"
  as_alice
}

# The enarx client's environment: trust drawbridge's self-signed TLS certificate, act as alice.
as_alice() {
  export ENARX_CA_BUNDLE=/var/lib/drawbridge/tls/self-signed.pem
  ENARX_TOKEN="$(setpriv --reuid=drawbridge --regid=drawbridge --init-groups \
    drawbridge token --data-dir /var/lib/drawbridge --subject alice)"
  export ENARX_TOKEN
}

# Deploys what was published before the upgrade (sim-snp) through the running steward and
# drawbridge, and verifies the workload's certificate: an issuance end to end.
deploy_and_verify() {  # [how steward runs, for the message]
  digest="$(cat /var/tmp/it/digest)"
  got="$(enarx package info "$host/alice/web:1.0.0" | sed -n 's/.*"digest": *"\([^"]*\)".*/\1/p' | head -1)"
  [[ "$got" == "$digest" ]] || die "the tag published before the upgrade is gone or changed ($got)"
  ok "drawbridge still serves alice/web:1.0.0 @ $digest"
  enarx deploy "$host/alice/web:1.0.0@$digest" --signer /var/tmp/it/publisher.key \
    --steward-ca /var/lib/steward/tls/ca.crt --steward-identity-ca /var/lib/steward/ca.crt \
    --platform sim-snp --sim-dir "$sim" --time-limit 60 >/var/tmp/it/deploy.log 2>&1 &
  deploy=$!
  for _ in $(seq 1 600); do
    (exec 3<>/dev/tcp/127.0.0.1/$WP) 2>/dev/null && break
    kill -0 $deploy 2>/dev/null || { cat /var/tmp/it/deploy.log; die "enarx deploy exited"; }
    sleep 0.1
  done
  sed 's/^/    /' /var/tmp/it/deploy.log
  # 127.0.0.1: in this network namespace localhost resolves to ::1 first, and enarx verify tries
  # only the first address (the workload listens on 127.0.0.1)
  enarx verify "127.0.0.1:$WP" --ca /var/lib/steward/ca.crt --allow-simulated \
    --revocation-ca /var/lib/steward/tls/ca.crt --expect-slug "$host/alice/web:1.0.0" \
    --expect-digest "$digest" --expect-signer "$(enarx key fingerprint /var/tmp/it/publisher.key)" \
    >/var/tmp/it/verify.out 2>&1 || { cat /var/tmp/it/verify.out; die "enarx verify"; }
  sed 's/^/    /' /var/tmp/it/verify.out
  kill -0 $deploy 2>/dev/null || die "the workload stopped early"
  kill $deploy; wait $deploy 2>/dev/null || true
  ok "deployed (sim-snp, attested by the pre-upgrade steward CA${1:-}), fetched over mutual TLS, verified"
}

case "$phase" in
install-prev)
  apt-get update -qq
  apt_install /var/tmp/debs/prev/*.deb
  for p in enarx steward drawbridge; do ok "$p $(version_of $p) installed"; done
  grep -E '^Setting up (enarx|steward|drawbridge|libnode108)' /var/tmp/it/apt.log | sed 's/^/    /'
  echo "    dependencies pulled from the archive: $(grep -c '^Setting up' /var/tmp/it/apt.log) packages"
  for u in steward drawbridge; do
    getent passwd $u >/dev/null || die "no system user $u"
    [[ "$(stat -c '%U %a' /var/lib/$u)" == "$u 700" ]] || die "/var/lib/$u: $(stat -c '%U %a' /var/lib/$u)"
    [[ -L /etc/systemd/system/multi-user.target.wants/$u.service ]] && die "$u.service was enabled by the package"
  done
  ok "system users steward, drawbridge; /var/lib/{steward,drawbridge} 0700; no service enabled"
  [[ -d /var/cache/amd-sev && -d /var/cache/intel-sgx ]] || die "cache directories missing"
  ok "/var/cache/amd-sev, /var/cache/intel-sgx"
  dpkg-query -W -f='${Conffiles}\n' steward drawbridge | sed '/^$/d; s/^/    conffile/'
  ;;

state)
  enarx platform sim init "$sim" >/var/tmp/it/sim-init.out
  chmod -R a+rX "$sim"
  snp_hash="$(sed -n 's/.*\[snp\] hash = \["\([0-9a-f]*\)"\].*/\1/p' /var/tmp/it/sim-init.out)"
  [[ -n "$snp_hash" ]] || die "sim init printed no measurement"
  ok "simulated SEV-SNP platform in $sim"
  # The admin edits the shipped example configurations (conffiles).
  c=/etc/steward/steward.toml
  sed -i 's|^# hostnames = .*|hostnames = ["localhost"]|; s|^# public_url = .*|public_url = "https://localhost:3000"|' $c
  sed -i 's|^allow_insecure = false .*|allow_insecure = true   # install test: simulated platform|' $c
  cat >>$c <<TOML

# install test (scripts/install-test.sh): the simulated platform's root and runtime
[simulated]
roots = ["$sim/snp/cert_chain.pem"]
[snp]
hash = ["$snp_hash"]
require_crl = false   # the simulated ARK publishes no CRL (with an AMD cache dir it is required)
TOML
  c=/etc/drawbridge/drawbridge.toml
  sed -i 's|^address = .*|address = "127.0.0.1"|; s|^public_host = .*|public_host = "localhost:8443"|;
          s|^cert = |# cert = |; s|^key = |# key = |; s|^self_signed = false.*|self_signed = true|;
          s|^default_url = .*|default_url = "https://localhost:3000"|;
          s|^# crl_url = .*|crl_url = ["https://localhost:3000/crl"]|;
          s|^# crl_ca_file = .*|crl_ca_file = "/etc/drawbridge/steward-https-ca.pem"\naccept_insecure = true|' $c
  ok "edited /etc/steward/steward.toml and /etc/drawbridge/drawbridge.toml"
  start_unit steward
  wait_port $SP 30 || die "steward did not start"
  install -m 0644 /var/lib/steward/ca.crt /etc/drawbridge/steward-ca.pem
  install -m 0644 /var/lib/steward/tls/ca.crt /etc/drawbridge/steward-https-ca.pem
  stop_unit steward
  ok "steward generated its CA in /var/lib/steward; its certificates copied to /etc/drawbridge"
  start_both
  enarx key generate --out /var/tmp/it/publisher.key >/dev/null
  enarx user register "$host/alice" >/dev/null
  enarx repo register "$host/alice/web" --private >/dev/null
  pkg=/var/tmp/it/package; mkdir -p $pkg
  cp /var/tmp/tls-server.wasm $pkg/main.wasm
  cat >$pkg/Enarx.toml <<TOML
# no argument: serves until stopped (the flow stops it after verifying)
[[files]]
kind = "stdin"
[[files]]
kind = "stdout"
[[files]]
kind = "stderr"
[[files]]
kind = "listen"
prot = "tls"
name = "ingest"
addr = "127.0.0.1"
port = $WP
TOML
  enarx package publish $pkg "$host/alice/web:1.0.0" --sign-key /var/tmp/it/publisher.key >/var/tmp/it/publish.log 2>&1 \
    || die "enarx package publish"
  enarx package info "$host/alice/web:1.0.0" | sed -n 's/.*"digest": *"\([^"]*\)".*/\1/p' | head -1 >/var/tmp/it/digest
  openssl x509 -in /var/lib/steward/ca.crt -noout -fingerprint -sha256 >/var/tmp/it/ca-fingerprint
  stop_unit drawbridge; stop_unit steward
  ok "published alice/web:1.0.0 ($(cat /var/tmp/it/digest)) signed by $(enarx key fingerprint /var/tmp/it/publisher.key)"
  ok "state: $(find /var/lib/steward /var/lib/drawbridge -type f | wc -l) files; keep CA $(cut -d= -f2 /var/tmp/it/ca-fingerprint | cut -c1-23)…"
  ;;

upgrade)
  cp /etc/steward/steward.toml /var/tmp/it/steward.toml.before
  apt_install /var/tmp/debs/cur/*.deb
  for p in enarx steward drawbridge; do ok "$p upgraded to $(version_of $p)"; done
  cmp -s /etc/steward/steward.toml /var/tmp/it/steward.toml.before || die "the edited steward.toml changed"
  cmp -s <(openssl x509 -in /var/lib/steward/ca.crt -noout -fingerprint -sha256) /var/tmp/it/ca-fingerprint \
    || die "steward's CA changed in the upgrade"
  ok "edited conffiles kept, steward's CA unchanged, $(find /var/lib/steward /var/lib/drawbridge -type f | wc -l) state files"
  ;;

flow)
  start_both
  deploy_and_verify
  stop_unit drawbridge; stop_unit steward
  ;;

systemd)
  for u in steward drawbridge; do
    [[ "$(systemctl is-enabled $u.service)" == disabled ]] || die "$u.service is not disabled after install"
  done
  [[ "$(systemctl is-enabled enarx-cache-refresh.timer)" == disabled ]] || die "the timer is enabled"
  ok "installed, nothing enabled: $(systemctl is-enabled steward.service drawbridge.service enarx-cache-refresh.timer | tr '\n' ' ')"
  systemctl start steward.service
  wait_port $SP 30 || { systemctl status steward --no-pager; journalctl -u steward --no-pager | tail; die "steward.service"; }
  systemctl start drawbridge.service
  wait_port $DP 30 || { systemctl status drawbridge --no-pager; journalctl -u drawbridge --no-pager | tail; die "drawbridge.service"; }
  for u in steward:$SP drawbridge:$DP; do
    body="$(curl -fsSk "https://127.0.0.1:${u#*:}/healthz")" || die "${u%:*} /healthz"
    ok "${u%:*}.service active as $(systemctl show -p User --value ${u%:*}.service) (MainPID $(systemctl show -p MainPID --value ${u%:*}.service)), GET /healthz -> $body"
  done
  # An issuance under the unit's sandbox (SystemCallFilter=, ProtectSystem=, ...), which the
  # other phases cannot apply: a system call the filter refuses kills steward with SIGSYS.
  as_alice
  journalctl -u steward --no-pager -f >/var/tmp/it/steward-journal.log 2>&1 &
  journal=$!
  deploy_and_verify " through steward.service, under its unit's sandbox"
  kill $journal 2>/dev/null || true
  [[ "$(systemctl is-active steward.service)" == active ]] \
    || die "steward.service is not active after issuing"
  pid="$(systemctl show -p MainPID --value steward.service)"
  systemctl reload steward.service
  sleep 1
  [[ "$(systemctl show -p MainPID --value steward.service)" == "$pid" && "$(systemctl is-active steward.service)" == active ]] \
    || die "systemctl reload steward"
  ok "systemctl reload steward: SIGHUP, same process, still active"
  dpkg -i /var/tmp/debs/cur/steward_*.deb >/var/tmp/it/dpkg.log 2>&1 || die "dpkg -i steward (upgrade in place)"
  wait_port $SP 30 || die "steward not back after the package upgrade"
  new="$(systemctl show -p MainPID --value steward.service)"
  [[ "$new" != "$pid" && "$(systemctl is-active steward.service)" == active ]] || die "the upgrade did not restart steward"
  ok "package upgrade of a running steward restarts it (MainPID $pid -> $new)"
  systemctl enable steward.service drawbridge.service enarx-cache-refresh.timer >/dev/null 2>&1
  systemctl start enarx-cache-refresh.timer
  ok "the admin enables them: $(systemctl is-enabled steward.service drawbridge.service enarx-cache-refresh.timer | tr '\n' ' ')"
  ok "timer: $(systemctl list-timers --no-pager enarx-cache-refresh.timer | sed -n 2p | tr -s ' ' | cut -c1-90)"
  systemctl stop steward.service drawbridge.service
  ;;

lifecycle)
  apt_install --reinstall /var/tmp/debs/cur/*.deb
  ok "reinstall: maintainer scripts ran again ($(find /var/lib/steward -type f | wc -l) steward state files)"
  apt-get remove -y -q enarx steward drawbridge >/var/tmp/it/apt.log 2>&1 || die "apt-get remove"
  [[ -f /etc/steward/steward.toml && -f /etc/drawbridge/drawbridge.toml && -f /var/lib/steward/ca.key ]] \
    || die "remove deleted configuration or state"
  [[ -x /usr/bin/steward ]] && die "remove left /usr/bin/steward"
  [[ "$(readlink /etc/systemd/system/steward.service 2>/dev/null)" == /dev/null ]] || die "remove did not mask steward.service"
  ok "remove: programs gone, units masked; /etc/steward, /etc/drawbridge, /var/lib/* and the caches kept"
  apt-get purge -y -q enarx steward drawbridge >/var/tmp/it/apt.log 2>&1 || die "apt-get purge"
  [[ -e /etc/steward || -e /etc/drawbridge ]] && die "purge left /etc/steward or /etc/drawbridge"
  [[ -e /var/cache/amd-sev || -e /var/cache/intel-sgx ]] && die "purge left the caches"
  [[ -f /var/lib/steward/ca.key && -d /var/lib/drawbridge ]] || die "purge deleted the state"
  for l in /etc/systemd/system/multi-user.target.wants/steward.service \
           /etc/systemd/system/multi-user.target.wants/drawbridge.service \
           /etc/systemd/system/timers.target.wants/enarx-cache-refresh.timer \
           /etc/systemd/system/steward.service /etc/systemd/system/drawbridge.service; do
    [[ -e "$l" || -L "$l" ]] && die "purge left $l"
  done
  ok "purge: configuration, caches, masks and enablement links removed; /var/lib/steward (CA key) and /var/lib/drawbridge kept, as documented"
  grep -E 'kept' /var/tmp/it/apt.log | sed 's/^/    /' || true
  apt_install /var/tmp/debs/cur/*.deb
  [[ -f /etc/steward/steward.toml ]] || die "reinstall after purge: no configuration"
  ok "install after purge: fresh conffiles, existing users and state reused"
  ;;
*) echo "unknown phase $phase" >&2; exit 2 ;;
esac
