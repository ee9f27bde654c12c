#!/usr/bin/env bash
# cdktf-kubeadm node bootstrap, no arguments. Settings (/etc/cdktf-kubeadm/bootstrap.env):
#  all: CLUSTER_NAME NODE_ROLE(control-plane|worker) API_ENDPOINT(host:port) K8S_VERSION K8S_MINOR
#   PKG_REPO_URL PKG_KEY_FINGERPRINT SANDBOX_IMAGE CONTAINERD_REPO_URL(Docker's apt repository base,
#   /<os-release ID> appended) CONTAINERD_KEY_FINGERPRINT CONTAINERD_VERSION_PREFIX(glob, e.g. 2.3.*);
#   optional NODE_NAME(else hostname) HTTP_PROXY HTTPS_PROXY NO_PROXY SERVICE_IP(the kubernetes
#   Service: preflight requires a route to it); control-plane IMAGE_REPOSITORY
#  control-plane: CP_SLOT NODE_NAME CNI_PLUGIN(calico|flannel|cilium|none); unless none CNI_URL
#   CNI_SHA256; cilium CNI_VERSION, on aarch64 CNI_URL_ARM64 CNI_SHA256_ARM64; flannel/cilium
#   POD_CIDR; optional API_PEER_ENDPOINTS, API_HAIRPIN_DNAT=1 (join through a peer via iptables DNAT),
#   CERT_RENEW_DAYS (renew certificates that expire within this many days; default 90)
#  worker, optional POWEROFF_MINUTES: after a failed bootstrap, power off after this many minutes
#   (autoscaled groups replace a stopped instance); CP_NODES: the control-plane Node names, which
#   must all run this node's minor before it joins; LIFECYCLE_HOOK LIFECYCLE_GROUP LIFECYCLE_REGION
#   (AWS, with the secret store): the group's launch lifecycle hook, completed once joined;
#   DRAIN_TIMEOUT (seconds of evictions before termination), AWS TERMINATION_HOOK (the group's
#   termination lifecycle hook, completed once drained)
#  optional SECRETS_SOURCE(aws-secretsmanager|gce-secretmanager) SECRETS_ID(secret ARN | secret
#   version name) SECRETS_REGION(aws): the CA keys and the join token come from that secret store
#   (step secrets, src/bootstrap/secret-bundle.ts), not from user data
#  control-plane, optional UPGRADE_CHANNEL(aws-ssm|gce-metadata|file): where the upgrade agent reads
#   the desired Kubernetes version; aws-ssm UPGRADE_PARAMETER UPGRADE_REGION, gce-metadata
#   UPGRADE_METADATA_KEY (a project metadata key), file: /etc/cdktf-kubeadm/desired-version
#  control-plane, optional BOOTSTRAP_TOKEN_TTL (seconds; 0: never expires): the lifetime of a
#   rotated join token the token agent registers
#  with a secret store: BOOTSTRAP_SHA256, the digest the loader checks the full script against
# Arguments: none (bootstrap); on control-plane nodes 'upgrade' (the upgrade agent), 'certs' (renews
#   certificates close to expiry) or 'token' (registers the current join token), run by systemd
#   timers the bootstrap installs (on bare metal, 'token' by the SSH provisioner); on AWS and GCE
#   workers 'drain' (GCE's shutdown script) and 'drain-watch' (AWS: the cdktf-kubeadm-drain service)
# Test seams: BOOTSTRAP_{ROOT,SLEEP,RETRIES,WAIT_RETRIES,PROBE_RETRIES,BACKOFF,MAX_BACKOFF,
#   IMDS_ENDPOINT,SECRETS_ENDPOINT,SSM_ENDPOINT,AUTOSCALING_ENDPOINT}
# Nodes run a packed copy (src/bootstrap/pack-script.ts): no comments or indentation, workers'
# copies leave out the sections between '# @control-plane-only' and '# @end' (control-plane copies
# those between '# @worker-only' and '# @end'), and a section
# '# @only FEATURE...' stays only in copies for that SECRETS_SOURCE (or upgrade-UPGRADE_CHANNEL,
# drain-aws, drain-gce, node-drain-rbac: src/bootstrap/bootstrap-script.ts).
# @stage1
set -Eeuo pipefail
umask 022
R=${BOOTSTRAP_ROOT:-}
E=$R/etc/cdktf-kubeadm
SETTINGS=$E/bootstrap.env LOGN=/var/log/cdktf-kubeadm-bootstrap.log ST=$R/var/lib/cdktf-kubeadm RUN=$R/run/cdktf-kubeadm
SLEEP=${BOOTSTRAP_SLEEP:-sleep} RETRIES=${BOOTSTRAP_RETRIES:-6} BACKOFF=${BOOTSTRAP_BACKOFF:-2} MAXB=${BOOTSTRAP_MAX_BACKOFF:-30}
MAIN=$$ STEP=start DIED='' STARTED='' WHAT=bootstrap STATUS=status CLEANUP=:
# @end
INIT_CONFIG=$E/kubeadm-init.yaml JOIN_CONFIG=$E/kubeadm-join.yaml
K=$R/etc/kubernetes PKI=$R/etc/kubernetes/pki KEEP=$ST/keep A=$ST/cluster.attempt CA=$R/etc/kubernetes/pki/ca.crt
WAITS=${BOOTSTRAP_WAIT_RETRIES:-40} PROBES=${BOOTSTRAP_PROBE_RETRIES:-3}
CA_FILES="ca.crt ca.key front-proxy-ca.crt front-proxy-ca.key etcd/ca.crt etcd/ca.key sa.key sa.pub"
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600)
export DEBIAN_FRONTEND=noninteractive
# @stage1

now() { printf '%(%FT%T%z)T' -1; }
log() { printf '%s [%s] %s\n' "$(now)" "$STEP" "$*" >&2; }
warn() { log "WARNING: $*"; }
js() { local s=${1//\\/\\\\}; printf '"%s"' "$(tr -d '\000-\037' <<<"${s//\"/\\\"}")"; }
status() { # phase result [error]
  local f=null e=null
  [[ $2 == running ]] || f=$(js "$(now)")
  [[ -z ${3:-} ]] || e=$(js "$3")
  printf '{"phase":%s,"started":%s,"finished":%s,"result":%s,"error":%s}\n' "$(js "$1")" "$(js "$STARTED")" "$f" "$(js "$2")" "$e" \
    >"$ST/s.tmp" && mv -f "$ST/s.tmp" "$ST/status.json"
}
failed() { printf 'cdktf-kubeadm %s FAILED in step %s: %s. Log: %s\n' "$WHAT" "$STEP" "${1%.}" "$LOGN" >&2; }
die() {
  if [[ $BASHPID != "$MAIN" ]]; then log "ERROR: $*"; exit 1; fi
  trap - ERR
  DIED=1
  "$CLEANUP"
  CLEANUP=:
  "$STATUS" "$STEP" failed "$*" 2>/dev/null || true
  # An autoscaled worker that cannot bootstrap must look failed to its group (ASG, MIG), which
  # replaces a stopped instance; a running one that never joined would be kept.
  # A worker held by its group's launch lifecycle hook: the group replaces it at once.
  ! declare -F lifecycle >/dev/null || lifecycle ABANDON 2>/dev/null || :
  [[ -z ${POWEROFF_MINUTES:-} || $WHAT != bootstrap ]] || {
    log "powering off in $POWEROFF_MINUTES minutes so that the group replaces this worker ('shutdown -c' keeps it)"
    shutdown -h "+$POWEROFF_MINUTES" "cdktf-kubeadm bootstrap failed" >/dev/null 2>&1 || warn "shutdown failed"
  }
  failed "$*"
  exit 1
}
on_exit() {
  local rc=$?
  "$CLEANUP"
  rm -rf "$RUN/admin.conf" "$RUN/dl" "$RUN/s"
  ((rc == 0)) || [[ -n $DIED ]] || failed "exited with status $rc"
}
trap 'rc=$?; [[ $BASHPID != "$MAIN" ]] || die "command failed (exit $rc): $BASH_COMMAND"' ERR
trap on_exit EXIT

# "$@" up to RETRIES times, exponential backoff capped at MAXB seconds
retry() {
  local n=1 d=$BACKOFF
  until "$@"; do
    if ((n >= RETRIES)); then warn "giving up after $n attempts: $*"; return 1; fi
    warn "attempt $n/$RETRIES failed: $*; retrying in ${d}s"
    "$SLEEP" "$d"
    n=$((n + 1)) d=$((d * 2 > MAXB ? MAXB : d * 2))
  done
}

need() { local v; for v; do [[ -n ${!v:-} ]] || die "missing required setting $v in $SETTINGS"; done; }
# stdout and stderr to the console and the log, join tokens redacted
logs() { exec > >(sed -u -E 's/\b[a-z0-9]{6}\.[a-z0-9]{16}\b/<redacted-token>/g' | tee -a "$R$LOGN") 2>&1; }
# @end
settings() {
  [[ -r $SETTINGS ]] || die "$SETTINGS is missing: check the user data and cloud-init logs"
  # shellcheck source=/dev/null # generated per node
  . "$SETTINGS"
  need CLUSTER_NAME NODE_ROLE API_ENDPOINT K8S_VERSION K8S_MINOR PKG_REPO_URL PKG_KEY_FINGERPRINT SANDBOX_IMAGE \
    CONTAINERD_REPO_URL CONTAINERD_KEY_FINGERPRINT CONTAINERD_VERSION_PREFIX
  [[ $K8S_VERSION == "$K8S_MINOR".* ]] || die "K8S_VERSION '$K8S_VERSION' is not a patch of K8S_MINOR '$K8S_MINOR'"
  [[ ${K8S_MINOR#1.} -lt 36 || $CONTAINERD_VERSION_PREFIX == [2-9]* ]] ||
    die "CONTAINERD_VERSION_PREFIX '$CONTAINERD_VERSION_PREFIX': Kubernetes $K8S_MINOR needs containerd 2.0 or later"
  local f files=("$JOIN_CONFIG") pki=''
  case $NODE_ROLE in
    control-plane) declare -F cpsettings >/dev/null || die "this is a worker's copy of the script: NODE_ROLE control-plane needs its own"; cpsettings ;;
    # kubeadm join refuses a worker with $PKI/ca.crt: its copy of the CA lives in $E/pki
    worker) CA=$E/pki/ca.crt ;;
    *) die "NODE_ROLE '$NODE_ROLE' must be control-plane or worker" ;;
  esac
  [[ -z ${SECRETS_SOURCE:-} ]] || ssettings || die "this copy of the script cannot read secrets (SECRETS_SOURCE '$SECRETS_SOURCE')"
  # with a secret store the PKI files come from its bundle (step secrets, usually done by the loader)
  [[ -n ${SECRETS_SOURCE:-} && ! -e $ST/step-secrets.done ]] || { files+=("$CA"); for f in $pki; do files+=("$PKI/$f"); done; }
  for f in "${files[@]}"; do
    [[ -s $f ]] || die "$f is missing: check the user data${SECRETS_SOURCE:+ and secret $SECRETS_ID (the $NODE_ROLE bundle?)} and cloud-init logs"
  done
  NODE=${NODE_NAME:-$(hostname)} NODE=${NODE,,}
  export HTTP_PROXY=${HTTP_PROXY:-} HTTPS_PROXY=${HTTPS_PROXY:-} NO_PROXY=${NO_PROXY:-}
  export http_proxy=$HTTP_PROXY https_proxy=$HTTPS_PROXY no_proxy=$NO_PROXY
}

# @control-plane-only
# the control-plane settings (part of settings: adds the init config and the CA files to its checks)
cpsettings() {
  need CP_SLOT NODE_NAME CNI_PLUGIN
  case $CNI_PLUGIN in
    none) ;; calico) need CNI_URL CNI_SHA256 ;; flannel) need CNI_URL CNI_SHA256 POD_CIDR ;;
    cilium)
      need CNI_URL CNI_SHA256 CNI_VERSION POD_CIDR
      if [[ $(uname -m) == aarch64 ]]; then need CNI_URL_ARM64 CNI_SHA256_ARM64; CNI_URL=$CNI_URL_ARM64 CNI_SHA256=$CNI_SHA256_ARM64; fi ;;
    *) die "CNI_PLUGIN '$CNI_PLUGIN' is not one of calico, flannel, cilium, none" ;;
  esac
  files+=("$INIT_CONFIG") pki=$CA_FILES
  [[ -z ${UPGRADE_CHANNEL:-} ]] || { declare -F usettings >/dev/null || die "this copy of the script has no upgrade agent (UPGRADE_CHANNEL '$UPGRADE_CHANNEL')"; usettings; }
  # copies for a BACKUP_TARGET carry bsettings
  [[ -z ${BACKUP_TARGET:-} ]] || bsettings
}
# @end
osv() { sed -n -E "s/^$1=\"?([^\"]*)\"?$/\\1/p" "$R/etc/os-release" 2>/dev/null; }
step_preflight() {
  local os a m p ports used sc=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)
  os="$(osv ID) $(osv VERSION_ID)"
  [[ $os =~ ^(ubuntu\ 2[24]\.04|debian\ 12)$ ]] || die "unsupported OS '$os': use Ubuntu 22.04, Ubuntu 24.04 or Debian 12"
  a=$(uname -m)
  [[ $a == x86_64 || $a == aarch64 ]] || die "unsupported architecture '$a': use an x86_64 or aarch64 machine"
  swapoff -a
  [[ ! -f $R/etc/fstab ]] || sed -i -E '/^\s*[^#[:space:]]\S*\s+\S+\s+swap\s/s/^/#/' "$R/etc/fstab"
  mkdir -p "$R/etc/modules-load.d" "$R/etc/sysctl.d"
  printf 'overlay\nbr_netfilter\n' >"$R/etc/modules-load.d/k8s.conf"
  for m in overlay br_netfilter; do
    modprobe "$m" || die "cannot load kernel module $m: install linux-modules-extra-$(uname -r)"
  done
  printf '%s = 1\n' "${sc[@]}" >"$R/etc/sysctl.d/99-kubernetes.conf"
  sysctl --system >/dev/null || true
  for m in "${sc[@]}"; do
    [[ $(sysctl -n "$m") == 1 ]] || die "sysctl $m is not 1: a file in /etc/sysctl.d overrides it"
  done
  ports=10250
  [[ $NODE_ROLE == worker ]] || ports="${API_ENDPOINT##*:} 2379 2380 10250 10257 10259"
  used=$(ss -Htln | awk '{n=split($4,a,":"); print a[n]}')
  for p in $ports; do
    ! grep -qx "$p" <<<"$used" || die "port $p is already in use: stop the process ('ss -tlnp sport = :$p' shows it)"
  done
  # 1767225600: 2026-01-01, the year this script was written
  # pods and host-network agents (CNI daemons, kube-proxy) reach the API at the kubernetes Service
  # (kube-proxy's DNAT happens after routing): without a route to it, nothing gets Ready
  [[ -z ${SERVICE_IP:-} ]] || ip route get "$SERVICE_IP" >/dev/null 2>&1 ||
    die "no route to the Service network ($SERVICE_IP, the kubernetes Service): add a default route, or a route for the service CIDR, on this node"
  (($(date +%s) >= 1767225600)) || die "system clock ($(date -u)) is before 2026: fix time sync (timedatectl set-ntp true)"
  [[ $(timedatectl show -p NTPSynchronized --value) == yes ]] || warn "the clock is not NTP-synchronized (timedatectl)"
}

# @stage1
# @only aws-secretsmanager gce-secretmanager
# settings of the secrets step (this copy has the code for its SECRETS_SOURCE only)
ssettings() {
  [[ $SECRETS_SOURCE == @(aws-secretsmanager|gce-secretmanager) && $(declare -F "fetch_${SECRETS_SOURCE%%-*}") ]] ||
    die "SECRETS_SOURCE '$SECRETS_SOURCE' is not one of aws-secretsmanager, gce-secretmanager (or not the one this copy of the script reads)"
  need SECRETS_ID
  [[ $SECRETS_SOURCE != aws* ]] || need SECRETS_REGION
}
# @end
# @only aws-secretsmanager gce-secretmanager upgrade-aws-ssm upgrade-gce-metadata backup-aws-s3 backup-gce-gcs restore-s3 restore-gs
# hq CURL-ARGS... URL: one HTTP request. Tokens and credentials come as a curl config on stdin
# (-K -), never on a command line; the body goes to $SB, the status to HS (000: no answer).
hq() { HS=$(curl -sS --connect-timeout 5 --max-time 30 -o "$SB" -w '%{http_code}' -K - "$@") || HS=000; }
# a failure worth retrying; WHY is what the final error line says if it persists
soft() { WHY=$1; warn "$1"; return 1; }
# kcfg FORMAT FIELD...: a curl config ($S/k) from string fields of the JSON answer
kcfg() { python3 -c 'import json,sys;c=json.load(open(sys.argv[1]));print(sys.argv[2]%tuple(c[k] for k in sys.argv[3:]))' "$SB" "$@" >"$S/k" 2>/dev/null; }
# @end
# @only aws-secretsmanager gce-secretmanager upgrade-aws-ssm backup-aws-s3 backup-gce-gcs restore-s3 restore-gs
# sm WHAT DENIED-MESSAGE MISSING-FIX: a cloud API's answer: 0 success, 1 retry (throttled, server
# error, credentials not yet valid or a denial: IAM is eventually consistent, a grant made just
# before this node booted may not be visible yet), dies if WHAT is missing or the request is refused
sm() {
  local e=''
  [[ $HS != 200 ]] || return 0
  [[ $HS == 000 ]] || e=$(grep -oE -m1 '[A-Za-z]+Exception|ParameterNotFound|[A-Z]+_[A-Z_]+' "$SB" | head -n1) || :
  e="HTTP $HS${e:+ $e}"
  case $HS/$e in
    403/* | *AccessDenied* | *PERMISSION_DENIED) soft "$2 ($e)" || return ;;
    404/* | *NotFound* | *NOT_FOUND) die "$1 does not exist ($e): $3" ;;
    401/* | 429/* | *Throttling* | *ExpiredToken* | *UnrecognizedClient* | *InvalidClientTokenId*) ;;
    4??/*) die "$1: the request is refused ($e)" ;;
  esac
  soft "reading $1: $e"
}
# @end
# @only aws-secretsmanager upgrade-aws-ssm backup-aws-s3 restore-s3
# IMDSv2 token -> the instance role (AROLE) -> its credentials as a curl config in $S/k, for a
# request signed with them (--aws-sigv4)
aws_creds() {
  local m=${BOOTSTRAP_IMDS_ENDPOINT:-http://169.254.169.254}/latest
  hq --noproxy '*' -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$m/api/token" </dev/null
  [[ $HS == 200 ]] || soft "no IMDSv2 token (HTTP $HS)" || return
  printf 'header = "X-aws-ec2-metadata-token: %s"\n' "$(<"$SB")" >"$S/m"
  hq --noproxy '*' "$m/meta-data/iam/security-credentials/" <"$S/m"
  [[ $HS == 200 ]] || soft "no instance role in IMDS (HTTP $HS; 404: the instance has no IAM instance profile)" || return
  AROLE=$(head -n1 "$SB")
  hq --noproxy '*' "$m/meta-data/iam/security-credentials/$AROLE" <"$S/m"
  [[ $HS == 200 ]] && kcfg $'user = "%s:%s"\nheader = "x-amz-security-token: %s"' AccessKeyId SecretAccessKey Token ||
    soft "no credentials of instance role $AROLE in IMDS (HTTP $HS)" || return
}
# @end
# @only aws-secretsmanager
# GetSecretValue signed with the instance role's credentials
fetch_aws() {
  aws_creds || return
  hq --aws-sigv4 "aws:amz:$SECRETS_REGION:secretsmanager" -H 'X-Amz-Target: secretsmanager.GetSecretValue' \
    -H 'Content-Type: application/x-amz-json-1.1' --data "{\"SecretId\":\"$SECRETS_ID\"}" \
    "${BOOTSTRAP_SECRETS_ENDPOINT:-https://secretsmanager.$SECRETS_REGION.amazonaws.com}/" <"$S/k"
  sm "secret $SECRETS_ID" "the node's instance role $AROLE cannot read secret $SECRETS_ID: check its IAM policy and the secret's resource policy" "check SECRETS_ID and SECRETS_REGION"
}
# @end
# @only gce-secretmanager
# the default service account's access token -> AccessSecretVersion
fetch_gce() {
  hq --noproxy '*' -H 'Metadata-Flavor: Google' \
    "${BOOTSTRAP_IMDS_ENDPOINT:-http://metadata.google.internal}/computeMetadata/v1/instance/service-accounts/default/token" </dev/null
  [[ $HS == 200 ]] && kcfg 'header = "Authorization: Bearer %s"' access_token ||
    soft "no access token from the metadata server (HTTP $HS; 404: the instance has no service account)" || return
  hq "${BOOTSTRAP_SECRETS_ENDPOINT:-https://secretmanager.googleapis.com}/v1/$SECRETS_ID:access" <"$S/k"
  sm "secret $SECRETS_ID" "the node's service account cannot read secret $SECRETS_ID: grant it roles/secretmanager.secretAccessor on the secret" "check SECRETS_ID"
}
# @end
# @only aws-secretsmanager gce-secretmanager
# The bundle's JSON in $SB, fetched once: the loader leaves it (0600 under /run) for the full
# script's secrets step. The credentials used to fetch it are removed at once.
bundle() {
  S=$RUN/s SB=$RUN/s/r WHY=''
  [[ ! -s $SB ]] || return 0
  umask 077
  mkdir -p "$S"
  retry "fetch_${SECRETS_SOURCE%%-*}" || die "cannot read secret $SECRETS_ID: $WHY"
  rm -f "$S/k" "$S/m"
  umask 022
}
# @end
# @end
# @only aws-secretsmanager gce-secretmanager
# Installs the bundle {"version":1,"bootstrapToken":..,"files":[{"path","permissions","content"}],
# "script":..} (src/bootstrap/secret-bundle.ts): its files under /etc/kubernetes/pki or, a worker's
# CA, /etc/cdktf-kubeadm/pki (temp file +
# rename, their modes, new directories 0755) and the token in place of the placeholder; nothing is
# written unless all of it checks out.
step_secrets() {
  local f n
  bundle
  n=$(python3 -c 'import base64,json,os,re,sys
s,r,R,*C=sys.argv[1:]
b=json.load(open(r))
b=json.loads(b["SecretString"] if s=="aws" else base64.b64decode(b["payload"]["data"]))
t,F=b["bootstrapToken"],b["files"]
assert b["version"]==1 and re.fullmatch(r"[a-z0-9]{6}\.[a-z0-9]{16}",t), "not a version 1 bundle with a token"
assert all(re.fullmatch(r"/etc/(kubernetes|cdktf-kubeadm)/pki/[\w./-]+",f["path"]) and ".." not in f["path"] for f in F), "a path outside /etc/kubernetes/pki and /etc/cdktf-kubeadm/pki"
os.umask(18)
def w(p,c,m): os.makedirs(os.path.dirname(p),493,exist_ok=True); f=open(os.open(p+".t",os.O_WRONLY|os.O_CREAT|os.O_TRUNC,m),"w"); f.write(c); f.close(); os.chmod(p+".t",m); os.replace(p+".t",p)
[w(R+f["path"],f["content"],int(f["permissions"],8)) for f in F]
[w(c,open(c).read().replace("CDKTF-KUBEADM-TOKEN-FROM-SECRET-STORE",t),384) for c in C if os.path.exists(c)]
print(len(F))' "${SECRETS_SOURCE%%-*}" "$SB" "$R" "$JOIN_CONFIG" "$INIT_CONFIG") || die "secret $SECRETS_ID is not a usable cdktf-kubeadm secret bundle"
  rm -rf "$S"
  [[ $NODE_ROLE == worker ]] || for f in $CA_FILES; do
    [[ -s $PKI/$f ]] || die "$PKI/$f is missing after installing secret $SECRETS_ID: is it the control-plane bundle?"
  done
  log "installed the bootstrap token and $n files from $SECRETS_ID"
}
# @end
# @only aws-secretsmanager
# lifecycle CONTINUE|ABANDON|heartbeat [HOOK]: the group's launch lifecycle hook (LIFECYCLE_HOOK) holds a
# new worker in Pending:Wait: CONTINUE once it has joined puts it in service (an instance refresh
# replaces the next old worker only then), ABANDON has the group terminate and replace it, a
# heartbeat restarts the hook's timeout while the worker waits for the control plane. HOOK: another
# of the group's hooks (the termination hook, TERMINATION_HOOK, once the node is drained).
lifecycle() {
  local hook=${2:-${LIFECYCLE_HOOK:-}}
  [[ -n $hook ]] || return 0
  local S=$RUN/l SB=$RUN/l/r id body rc=0
  rm -rf "$S" && mkdir -m 700 "$S" || return
  if ! aws_creds; then rm -rf "$S"; return 1; fi
  hq --noproxy '*' "${BOOTSTRAP_IMDS_ENDPOINT:-http://169.254.169.254}/latest/meta-data/instance-id" <"$S/m"
  id=$(cat "$SB" 2>/dev/null) || id=''
  if [[ $HS != 200 || ! $id =~ ^i-[0-9a-f]+$ ]]; then rm -rf "$S"; soft "no instance id in IMDS (HTTP $HS)"; return; fi
  body="LifecycleHookName=$hook&AutoScalingGroupName=$LIFECYCLE_GROUP&InstanceId=$id&Version=2011-01-01"
  if [[ $1 == heartbeat ]]; then body="Action=RecordLifecycleActionHeartbeat&$body"; else body="Action=CompleteLifecycleAction&LifecycleActionResult=$1&$body"; fi
  hq --aws-sigv4 "aws:amz:$LIFECYCLE_REGION:autoscaling" -H 'Content-Type: application/x-www-form-urlencoded; charset=utf-8' --data "$body" \
    "${BOOTSTRAP_AUTOSCALING_ENDPOINT:-https://autoscaling.$LIFECYCLE_REGION.amazonaws.com}/" <"$S/k"
  [[ $HS == 200 ]] || rc=1 WHY="the lifecycle hook $hook of group $LIFECYCLE_GROUP refused $1 (HTTP $HS $(grep -oE -m1 '<Code>[^<]*' "$SB" | cut -c7-)): check the instance role's permission for it"
  rm -rf "$S"
  ((rc == 0)) || soft "$WHY"
}
# @end
# @only drain-aws drain-gce
# Drain before the machine goes away (workers of an autoscaling group or managed instance group):
# cordon the node, evict its pods through the eviction API until none is left or DRAIN_TIMEOUT
# seconds have passed (a PodDisruptionBudget holds an eviction back: HTTP 429, tried again every
# 5 s), stop the kubelet and delete the Node. All with the node's own credentials (kubelet.conf):
# the Node authorizer and NodeRestriction let a node cordon itself, list and evict the pods bound to
# it and, with the ClusterRole the control plane grants system:nodes, delete its own Node only.
node_kubectl() { kubectl --kubeconfig "$K/kubelet.conf" --request-timeout 15s "$@"; }
# pods_to_evict: "NAMESPACE NAME running|terminating" for each pod a drain moves: not mirror pods,
# not DaemonSet pods (read from the pod: a node may not get DaemonSets), not finished ones
pods_to_evict() {
  # one line per statement: the packed copy has no indentation
  node_kubectl get pods -A --field-selector "spec.nodeName=$NODE" -o json | python3 -c 'import json,sys
stays=lambda m,p:"kubernetes.io/config.mirror" in m.get("annotations",{}) or any(o.get("kind")=="DaemonSet" for o in m.get("ownerReferences",[])) or p.get("status",{}).get("phase") in ("Succeeded","Failed")
print("\n".join("%s %s %s"%(p["metadata"]["namespace"],p["metadata"]["name"],"terminating" if "deletionTimestamp" in p["metadata"] else "running") for p in json.load(sys.stdin)["items"] if not stays(p["metadata"],p)))'
}
drain_node() {
  local deadline=$(($(date +%s) + ${DRAIN_TIMEOUT:-300})) pods namespace name state
  log "draining $NODE: evictions for at most ${DRAIN_TIMEOUT:-300} s"
  node_kubectl cordon "$NODE" >/dev/null || warn "cannot cordon $NODE"
  while :; do
    if ! pods=$(pods_to_evict); then
      pods="(the API server did not list them)"
    elif [[ -z $pods ]]; then
      log "no pods left to evict"
      break
    fi
    if (($(date +%s) >= deadline)); then
      warn "drain timed out after ${DRAIN_TIMEOUT:-300} s; pods left: $(tr '\n' ' ' <<<"$pods")"
      break
    fi
    while read -r namespace name state; do
      [[ $state == running ]] || continue
      if node_kubectl create --raw "/api/v1/namespaces/$namespace/pods/$name/eviction" -f - >/dev/null 2>"$RUN/eviction.err" \
        <<<"{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"$name\",\"namespace\":\"$namespace\"}}"; then
        log "evicted $namespace/$name"
      elif grep -q "disruption budget" "$RUN/eviction.err"; then
        log "$namespace/$name: its PodDisruptionBudget allows no eviction now: trying again"
      else
        warn "cannot evict $namespace/$name: $(head -c 300 "$RUN/eviction.err")"
      fi
    done <<<"$pods"
    "$SLEEP" 5
  done
  # the kubelet stops first: a running one would register the Node again
  systemctl stop kubelet || warn "cannot stop the kubelet"
  if node_kubectl delete node "$NODE" --wait=false >/dev/null; then log "deleted Node $NODE"; else warn "cannot delete Node $NODE"; fi
  DRAINED=1
}
# drain_agent drain|drain-watch: `drain` (GCE's shutdown script) drains now; `drain-watch` (the
# cdktf-kubeadm-drain service on AWS) waits for this instance's termination first
drain_agent() {
  # its failures go to its log, not to the bootstrap's status.json
  WHAT=$1 STEP=$1 LOGN=/var/log/cdktf-kubeadm-drain.log STATUS=:
  mkdir -p "$ST" "$RUN" "$R/var/log"
  exec > >(tee -a "$R$LOGN") 2>&1
  [[ -e $ST/done ]] || { log "the bootstrap has not finished: nothing to drain"; exit 0; }
  settings
  if [[ $1 == drain ]]; then drain_node; else drain_watch; fi
}
# @end
# @only drain-aws
# imds ITEM: an instance metadata item through IMDSv2 (body in $SB, status in HS)
imds() {
  local m=${BOOTSTRAP_IMDS_ENDPOINT:-http://169.254.169.254}/latest
  hq --noproxy '*' -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$m/api/token" </dev/null
  [[ $HS == 200 ]] || return 1
  printf 'header = "X-aws-ec2-metadata-token: %s"\n' "$(<"$SB")" >"$S/m"
  hq --noproxy '*' "$m/meta-data/$1" <"$S/m"
  [[ $HS == 200 ]]
}
# Every 5 s: autoscaling/target-lifecycle-state turns Terminated when the group's termination hook
# (TERMINATION_HOOK) holds this instance in Terminating:Wait (an instance refresh, a scale-in); then
# drain and CONTINUE the hook, which lets the group terminate it. spot/instance-action is the
# two-minute Spot interruption notice: drain within 90 s, then go on watching for the hook.
drain_watch() {
  local S=$RUN/w SB=$RUN/w/r DRAINED=''
  rm -rf "$S"
  mkdir -m 700 "$S"
  log "watching for the termination of $NODE (autoscaling target lifecycle state, Spot interruption notice)"
  while :; do
    if imds autoscaling/target-lifecycle-state && [[ $(<"$SB") == Terminated ]]; then
      log "the autoscaling group is terminating this instance"
      [[ -n $DRAINED ]] || drain_node
      retry lifecycle CONTINUE "$TERMINATION_HOOK" ||
        warn "cannot complete lifecycle hook $TERMINATION_HOOK: ${WHY:-}; the group terminates this instance when the hook times out"
      return 0
    fi
    if [[ -z $DRAINED ]] && imds spot/instance-action; then
      log "Spot interruption notice: $(<"$SB")"
      DRAIN_TIMEOUT=$((${DRAIN_TIMEOUT:-300} < 90 ? ${DRAIN_TIMEOUT:-300} : 90)) drain_node
    fi
    "$SLEEP" 5
  done
}
# the service that runs drain-watch from boot to termination
step_drain_watch() {
  local unit=$R/etc/systemd/system/cdktf-kubeadm-drain.service
  mkdir -p "${unit%/*}"
  printf '[Unit]\nDescription=cdktf-kubeadm: drain this node before its autoscaling group terminates it\nAfter=kubelet.service\n[Service]\nExecStart=/usr/local/sbin/cdktf-kubeadm-bootstrap drain-watch\nRestart=on-failure\nRestartSec=10\n[Install]\nWantedBy=multi-user.target\n' >"$unit"
  systemctl daemon-reload
  systemctl enable --now cdktf-kubeadm-drain.service
}
# @end
# @stage1-only
# The loader: what user data carries with a secret store. It fetches the bundle, installs the
# full script from it in its own place (only if its sha256 is BOOTSTRAP_SHA256, pinned in user
# data) and hands over; the full script installs the rest of the bundle in its secrets step.
# shellcheck disable=SC2317 # the full script's main replaces it; the loader has only this one
main() {
  STEP=preflight
  [[ $(id -u) == 0 ]] || die "must run as root: run it with sudo"
  [[ -z ${1:-} ]] || { log "the bootstrap has not installed the full script yet: nothing to do for '$1'"; exit 0; }
  STEP=start
  mkdir -p "$ST" "$RUN" "$R/var/log"
  local p self=$R/usr/local/sbin/cdktf-kubeadm-bootstrap
  exec 3>&1 4>&2
  logs
  p=$!
  exec 9>>"$ST/lock"
  flock -n 9 || die "another bootstrap run holds $ST/lock"
  STARTED=$(now) STEP=settings
  [[ -r $SETTINGS ]] || die "$SETTINGS is missing: check the user data and cloud-init logs"
  # shellcheck source=/dev/null # generated per node
  . "$SETTINGS"
  need SECRETS_SOURCE BOOTSTRAP_SHA256
  ssettings
  STEP=secrets
  status secrets running
  log "fetching the bootstrap script from $SECRETS_ID"
  bundle
  python3 -c 'import base64,gzip,hashlib,json,os,sys
s,r,h,X=sys.argv[1:]
b=json.load(open(r))
b=json.loads(b["SecretString"] if s=="aws" else base64.b64decode(b["payload"]["data"]))
"script" in b or sys.exit(4)
x=gzip.decompress(base64.b64decode(b["script"]))
hashlib.sha256(x).hexdigest()==h or sys.exit(3)
open(X+".t","wb").write(x); os.chmod(X+".t",493); os.replace(X+".t",X)' \
    "${SECRETS_SOURCE%%-*}" "$SB" "$BOOTSTRAP_SHA256" "$self" || case $? in
    3) die "the bootstrap script in secret $SECRETS_ID is not the one user data pins (sha256 $BOOTSTRAP_SHA256): finish 'cdktf deploy', then replace this node" ;;
    4) die "secret $SECRETS_ID holds no bootstrap script (an older cdktf-kubeadm wrote it): run 'cdktf deploy'" ;;
    *) die "secret $SECRETS_ID is not a usable cdktf-kubeadm secret bundle" ;;
  esac
  log "installed the bootstrap script; handing over"
  # the full script logs by itself: close this pipeline and let it drain
  exec 1>&3 2>&4 3>&- 4>&- 9>&-
  wait "$p" || :
  BOOTSTRAP_STARTED=$STARTED exec "$self"
}
# @end

# addrepo NAME URL SUITE KEY_URL FINGERPRINT: a signed apt repository, its key checked first
addrepo() {
  local key=$RUN/dl/$1.key kr=/etc/apt/keyrings/$1-apt-keyring.gpg fp v=${5//[[:space:]]/}
  retry curl -fsSL --connect-timeout 15 -o "$key" "$4" || die "cannot download $4"
  fp=$(gpg --show-keys --with-colons "$key" | awk -F: '$1=="pub"{p=1;next} p&&$1=="fpr"{print $10;p=0}')
  [[ $fp == "${v^^}" ]] || die "$4 has fingerprint '${fp//$'\n'/ }', expected '$v': refusing to trust it"
  gpg --dearmor --yes -o "$R$kr" "$key"
  chmod 644 "$R$kr"
  echo "deb [signed-by=$kr] $2 $3" >"$R/etc/apt/sources.list.d/$1.list"
}
# pick PACKAGE GLOB: the newest version apt offers that matches
pick() {
  local v
  # shellcheck disable=SC2053 # GLOB is a pattern
  for v in $(apt-cache madison "$1" | cut -d'|' -f2); do [[ $v != $2 ]] || { echo "$v"; return; }; done
  return 1
}
# containerd's config, regenerated on every run from its own defaults: systemd cgroups, our sandbox
# image, registry mirrors from certs.d. 2.x (config version 3): cri.v1.runtime ...runc.options,
# pinned_images sandbox; 1.x: sandbox_image.
containerd_config() {
  local cfg=$R/etc/containerd/config.toml
  mkdir -p "$R/etc/containerd"
  containerd config default >"$cfg"
  sed -i -E 's/^(\s*SystemdCgroup\s*=).*/\1 true/' "$cfg"
  grep -q 'SystemdCgroup = true' "$cfg" || sed -i -E '/runtimes\.runc\.options\]/a\  SystemdCgroup = true' "$cfg"
  sed -i -E "s|^(\\s*sandbox(_image)?\\s*=).*|\\1 \"$SANDBOX_IMAGE\"|" "$cfg"
  # registry mirrors (certs.d/<registry>/hosts.toml, from user data), for the CRI and 2.x's transfer service
  sed -i -E "s#^(\\s*config_path\\s*=\\s*)(\"\"|'')\\s*\$#\\1\"/etc/containerd/certs.d\"#" "$cfg"
  grep -q 'SystemdCgroup = true' "$cfg" || die "cannot set SystemdCgroup in $cfg"
  grep -qF "= \"$SANDBOX_IMAGE\"" "$cfg" || die "cannot set the sandbox image in $cfg"
  # every registry config_path (CRI, transfer service) is certs.d, and there is one
  { grep -E '^\s*config_path\s*=' "$cfg" | grep -qF /etc/containerd/certs.d && ! grep -E '^\s*config_path\s*=' "$cfg" | grep -vqF /etc/containerd/certs.d; } ||
    die "cannot set containerd's registry config_path (certs.d) in $cfg"
}
step_install() {
  local repo=${PKG_REPO_URL%/} crepo c v u
  crepo=${CONTAINERD_REPO_URL%/}/$(osv ID)
  if [[ -n $HTTP_PROXY$HTTPS_PROXY ]]; then
    mkdir -p "$R/etc/apt/apt.conf.d"
    printf 'Acquire::%s::Proxy "%s";\n' http "${HTTP_PROXY:-$HTTPS_PROXY}" https "${HTTPS_PROXY:-$HTTP_PROXY}" >"$R/etc/apt/apt.conf.d/90cdktf-kubeadm-proxy"
    for u in containerd kubelet; do
      u=$R/etc/systemd/system/$u.service.d
      mkdir -p "$u"
      printf '[Service]\nEnvironment="HTTP_PROXY=%s" "HTTPS_PROXY=%s" "NO_PROXY=%s"\n' "$HTTP_PROXY" "$HTTPS_PROXY" "$NO_PROXY" >"$u/http-proxy.conf"
    done
  fi
  retry "${APT[@]}" update || die "apt-get update failed: check DNS, network and proxy"
  retry "${APT[@]}" install ca-certificates curl gpg iptables || die "installing ca-certificates, curl, gpg and iptables failed"
  mkdir -p "$R/etc/containerd" "$RUN/dl" "$R/etc/apt/keyrings" "$R/etc/apt/sources.list.d"
  addrepo kubernetes "$repo/" / "$repo/Release.key" "$PKG_KEY_FINGERPRINT"
  addrepo docker "$crepo" "$(osv VERSION_CODENAME) stable" "$crepo/gpg" "$CONTAINERD_KEY_FINGERPRINT"
  retry "${APT[@]}" update || die "apt-get update failed after adding $repo/ and $crepo"
  c=$(pick containerd.io "$CONTAINERD_VERSION_PREFIX") ||
    die "containerd.io $CONTAINERD_VERSION_PREFIX is not available from $crepo: check CONTAINERD_VERSION_PREFIX"
  v=$(pick kubeadm "$K8S_VERSION-*") || die "kubeadm $K8S_VERSION is not available from $repo/: check K8S_VERSION"
  log "installing containerd.io $c and kubelet, kubeadm, kubectl $v"
  retry "${APT[@]}" install --allow-change-held-packages "containerd.io=$c" "kubelet=$v" "kubeadm=$v" "kubectl=$v" ||
    die "installing containerd.io $c and kubelet/kubeadm/kubectl $v failed"
  apt-mark hold containerd.io kubelet kubeadm kubectl
  containerd_config
  systemctl daemon-reload
  systemctl restart containerd
  systemctl enable containerd kubelet
}

# @control-plane-only
step_images() {
  retry kubeadm config images pull --config "$INIT_CONFIG" || die "pulling images from ${IMAGE_REPOSITORY:-the registry} failed"
}

# @end
# probe ENDPOINT...: prints the first endpoint whose /livez answers (under retry: RETRIES rounds)
probe() {
  local ep
  for ep; do
    if curl -fsS --noproxy '*' --max-time 5 --cacert "$CA" "https://$ep/livez" >/dev/null 2>&1; then echo "$ep"; return; fi
  done
  return 1
}
# @worker-only
# skew ENDPOINT: the API server's version (anonymous GET /version, in APIV) is at least this
# node's minor: a kubelet must not be newer than the API server (version-skew policy)
skew() {
  APIV=$(curl -fsS --noproxy '*' --max-time 5 --cacert "$CA" "https://$1/version" 2>/dev/null |
    sed -nE 's/.*"gitVersion": *"v([0-9]+\.[0-9]+)\..*/\1/p') || APIV=''
  [[ $APIV =~ ^1\.[0-9]+$ ]] && ((${APIV#1.} >= ${K8S_MINOR#1.})) && return
  warn "the API server at $1 reports Kubernetes ${APIV:-(no version)}, older than this node's $K8S_MINOR: waiting for the control plane's upgrade"
  return 1
}
# The cluster knows this node's join token once the bootstrap signer has signed cluster-info with
# it (anonymous read); a rotated token appears when a control-plane node's token agent registers it.
jws() {
  TID=$(sed -nE 's/^ *token: ([a-z0-9]{6})\.[a-z0-9]{16}$/\1/p' "$JOIN_CONFIG" | head -n1)
  curl -fsS --noproxy '*' --max-time 5 --cacert "$CA" "https://$1/api/v1/namespaces/kube-public/configmaps/cluster-info" 2>/dev/null |
    grep -q "\"jws-kubeconfig-$TID\"" && return
  warn "cluster-info at $1 has no signature for join token ${TID:-(none)} yet: waiting for the control plane to register it"
  return 1
}
# cpnodes ENDPOINT: every control-plane Node of CP_NODES that exists runs a kubelet of at least this
# node's minor (its agent upgrades the kubelet last), read with the join token (kubeadm lets
# bootstrap tokens get Nodes): behind a load balancer, one upgraded API server says nothing about
# the others. A slot being replaced (no Node) does not hold workers back.
cpnodes() {
  local n v code token
  token=$(sed -nE 's/^ *token: ([a-z0-9]{6}\.[a-z0-9]{16})$/\1/p' "$JOIN_CONFIG" | head -n1)
  for n in ${CP_NODES:-}; do
    # the body, then the 3-digit status (-w)
    v=$(printf 'header = "Authorization: Bearer %s"\n' "$token" |
      curl -sS --noproxy '*' --max-time 5 --cacert "$CA" -K - -w '%{http_code}' "https://$1/api/v1/nodes/$n" 2>/dev/null) || v=000
    code=${v: -3}
    [[ $code != 404 ]] || continue
    v=$(sed -nE 's/.*"kubeletVersion": *"v([0-9]+\.[0-9]+)\..*/\1/p' <<<"${v%???}" | head -n1)
    [[ $code == 200 && $v =~ ^1\.[0-9]+$ ]] && ((${v#1.} >= ${K8S_MINOR#1.})) && continue
    warn "control-plane node $n runs Kubernetes ${v:-(unknown: HTTP $code)}, older than this node's $K8S_MINOR: waiting for every control-plane node's upgrade"
    CPV="$n ${v:-(unknown)}"
    return 1
  done
}
# worker_waits ENDPOINT: a worker joins once the cluster knows its token and the whole control
# plane runs its minor
worker_waits() {
  ! declare -F lifecycle >/dev/null || lifecycle heartbeat || :
  RETRIES=$WAITS retry jws "$1" ||
    die "the cluster at $1 does not know join token $TID after $WAITS attempts: it expired (bootstrapTokenTtl) or was never registered; rotate it (bootstrapTokenRotation) and deploy"
  RETRIES=$WAITS retry skew "$1" ||
    die "the API server at $1 still reports Kubernetes ${APIV:-(no version)} after $WAITS attempts, older than this node's $K8S_MINOR: a kubelet must not be newer than the API server; upgrade the control plane first (or deploy this pool with the control plane's version)"
  RETRIES=$WAITS retry cpnodes "$1" ||
    die "control-plane node ${CPV% *} still runs Kubernetes ${CPV#* } after $WAITS attempts, older than this node's $K8S_MINOR: workers join only once every control-plane node is upgraded; check that node's upgrade agent and its log"
}
# @end
# kubeadm reset -f empties /etc/kubernetes/{pki,manifests}: before the first kubeadm run, keep what
# cloud-init placed there (CA files, a kube-vip static pod) and put it back after every reset.
snap() {
  local d
  rm -rf "$KEEP" && mkdir -m 700 "$KEEP" || return
  for d in pki manifests; do [[ ! -d $K/$d ]] || cp -a "$K/$d" "$KEEP/" || return; done
}
restore() { local d; for d in "$KEEP"/*; do [[ ! -e $d ]] || cp -a "$d" "$K/" || return; done; }
kreset() {
  log "kubeadm reset -f of the previous attempt (pre-placed files kept)"
  kubeadm reset -f && restore && rm -f "$A"
}
# Did an earlier attempt complete (run killed as kubeadm returned)? The API (waited for $1 rounds)
# knows the node, as control plane on that role, and after an init kube-proxy (made last) exists.
joined() {
  local kc=$K/kubelet.conf k l
  [[ $NODE_ROLE == worker ]] || kc=$K/admin.conf
  [[ -s $K/kubelet.conf && -s $kc ]] || return 1
  k=(kubectl --kubeconfig "$kc" --request-timeout 20s)
  l=$(RETRIES=$1 retry "${k[@]}" get node "$NODE" --ignore-not-found -o jsonpath='{.metadata.labels}') &&
    [[ -n $l && ($NODE_ROLE == worker || $l == *node-role.kubernetes.io/control-plane*) ]] &&
    [[ $(<"$ST/mode") != init || -n $(retry "${k[@]}" -n kube-system get ds kube-proxy --ignore-not-found -o name) ]] || return 1
  log "kubeadm $(<"$ST/mode") of $NODE completed in an earlier attempt: not resetting it"
}
# kubeadm "$@" (init/join); a failed earlier attempt is reset first, unless it completed
attempt() {
  if [[ -e $A ]]; then
    joined "$PROBES" && return
    kreset || return
  else
    snap || return
  fi
  touch "$A"
  "$@" || { echo failed >"$A"; return 1; }
}
# @control-plane-only
# Removes the etcd member and Node named $NODE left by the machine this one replaces.
janitor() {
  local kc=$RUN/admin.conf out pod id ids k ec
  (umask 077 && kubeadm kubeconfig user --config "$INIT_CONFIG" --client-name cdktf-kubeadm:etcd-janitor --org kubeadm:cluster-admins >"$kc") ||
    die "cannot make a temporary admin kubeconfig"
  k=(kubectl --kubeconfig "$kc" --server "https://$1" --request-timeout 20s)
  out=$(retry "${k[@]}" get pods -n kube-system -l component=etcd -o jsonpath='{range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{"\n"}{end}') ||
    die "cannot list etcd pods through $1"
  pod=$(awk -v n="$NODE" '$2!=n && $3=="Running"{print $1; exit}' <<<"$out")
  if [[ -n $pod ]]; then
    ec=("${k[@]}" exec -n kube-system "$pod" -- etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt
      --cert=/etc/kubernetes/pki/etcd/server.crt --key=/etc/kubernetes/pki/etcd/server.key member)
    out=$(retry "${ec[@]}" list) || die "cannot list etcd members through $pod"
    mapfile -t ids < <(awk -F', *' -v n="$NODE" '$3==n{print $1}' <<<"$out")
    for id in "${ids[@]}"; do
      log "removing stale etcd member $id ($NODE)"
      retry "${ec[@]}" remove "$id" || die "cannot remove stale etcd member $id ($NODE)"
    done
  else
    log "no etcd pod on another node"
  fi
  retry "${k[@]}" delete node "$NODE" --ignore-not-found || die "cannot delete the stale Node $NODE"
  rm -f "$kc"
}
# @end
step_cluster() {
  if [[ -e $A ]]; then
    local n=$WAITS
    [[ ! -s $A ]] || n=$PROBES # kubeadm failed: no need to wait
    joined "$n" || kreset || die "kubeadm reset -f failed"
  fi
  [[ -e $A ]] || init_or_join
  rm -rf "$A" "$KEEP"
  [[ $NODE_ROLE != worker ]] || ! declare -F lifecycle >/dev/null || retry lifecycle CONTINUE ||
    die "joined, but could not complete lifecycle hook ${LIFECYCLE_HOOK:-} of group ${LIFECYCLE_GROUP:-}: ${WHY:-}; the group abandons this instance when the hook times out"
}
init_or_join() {
  local ep='' mode=join eps=("$API_ENDPOINT")
  [[ $NODE_ROLE == worker ]] || read -ra eps <<<"${API_PEER_ENDPOINTS:-} $API_ENDPOINT"
  if [[ $NODE_ROLE == control-plane && $CP_SLOT == 0 ]] && ! ep=$(RETRIES=$PROBES retry probe "${eps[@]}"); then mode=init; fi
  echo "$mode" >"$ST/mode"
  if [[ $mode == init ]]; then
    log "no API server answers at ${eps[*]}: initializing the cluster"
    # with RESTORE_SNAPSHOT (copies for it carry restore_then): the restored etcd, then kubeadm init on it
    # shellcheck disable=SC2086 # empty or one word
    attempt ${RESTORE_SNAPSHOT:+restore_then} kubeadm init --skip-token-print ${RESTORE_SNAPSHOT:+--ignore-preflight-errors=DirAvailable--var-lib-etcd} --config "$INIT_CONFIG" ||
      die "kubeadm init${RESTORE_SNAPSHOT:+ on the etcd restored from $RESTORE_SNAPSHOT} failed"
    return
  fi
  [[ -n $ep ]] || ep=$(RETRIES=$WAITS retry probe "${eps[@]}") ||
    die "no API server answered at ${eps[*]} after $WAITS attempts: check control-plane slot 0 and the load balancer"
  if [[ $NODE_ROLE == control-plane ]]; then
    [[ $CP_SLOT != 0 ]] || log "the API answers at $ep: joining as a replacement for slot 0"
    janitor "$ep"
  fi
  [[ $NODE_ROLE != worker ]] || worker_waits "$ep"
  sed -i -E "s|^(\\s*apiServerEndpoint:).*|\\1 $ep|" "$JOIN_CONFIG"
  grep -q "apiServerEndpoint: $ep\$" "$JOIN_CONFIG" || die "$JOIN_CONFIG has no apiServerEndpoint line"
  log "joining through $ep"
  # Workers join through the endpoint itself: their copy has no hairpin.
  [[ $NODE_ROLE == worker ]] || hairpin -A "$ep" || die "cannot add the iptables rules that send ${API_ENDPOINT} to $ep while joining"
  retry attempt kubeadm join --config "$JOIN_CONFIG" || { [[ $NODE_ROLE == worker ]] || hairpin -D "$ep" || :; die "kubeadm join through $ep failed"; }
  [[ $NODE_ROLE == worker ]] || hairpin -D "$ep" || warn "could not remove the iptables hairpin rules for $ep (harmless: the node serves the API itself now)"
}
# @control-plane-only
# GCE: a load-balancer backend that connects to the LB address is answered by itself, and after
# discovery kubeadm talks to controlPlaneEndpoint. While this control-plane node joins, send its
# traffic for the endpoint to the healthy peer (API_HAIRPIN_DNAT=1). -A|-D PEER
hairpin() {
  [[ ${API_HAIRPIN_DNAT:-} == 1 && $2 != "$API_ENDPOINT" ]] || return 0
  local lb=${API_ENDPOINT%:*} tag=(-m comment --comment cdktf-kubeadm-hairpin)
  # The guest agent's local route to the LB address makes that address our source too, which the
  # peer (same route) drops as a martian: DNATed connections leave with our own (MASQUERADE).
  local dnat=(OUTPUT -p tcp -d "$lb" --dport "${API_ENDPOINT##*:}" "${tag[@]}" -j DNAT --to-destination "$2")
  local snat=(POSTROUTING -p tcp -d "${2%:*}" --dport "${2##*:}" -m conntrack --ctstate DNAT --ctorigdst "$lb" "${tag[@]}" -j MASQUERADE)
  if [[ $1 == -A ]]; then
    { iptables -t nat -C "${snat[@]}" 2>/dev/null || iptables -t nat -A "${snat[@]}"; } &&
      { iptables -t nat -C "${dnat[@]}" 2>/dev/null || iptables -t nat -A "${dnat[@]}"; }
  else
    while iptables -t nat -C "${dnat[@]}" 2>/dev/null; do iptables -t nat -D "${dnat[@]}" || return; done
    while iptables -t nat -C "${snat[@]}" 2>/dev/null; do iptables -t nat -D "${snat[@]}" || return; done
  fi
}
# @end

# @control-plane-only
# cilium install, unless its DaemonSet exists (an earlier attempt)
cilium_up() {
  local d
  d=$(kubectl --kubeconfig "$kc" -n kube-system get ds cilium --ignore-not-found -o name) || return
  if [[ -n $d ]]; then log "cilium is already installed ($d)"; return; fi
  KUBECONFIG=$kc "$R/usr/local/bin/cilium" install --version "$CNI_VERSION" --set "ipam.operator.clusterPoolIPv4PodCIDRList=$POD_CIDR"
}
step_cni() {
  local f=$RUN/dl/cni sum kc=$K/admin.conf
  if [[ $(cat "$ST/mode") != init ]]; then log "CNI: installed by the node that ran kubeadm init"; return; fi
  if [[ $CNI_PLUGIN == none ]]; then warn "CNI_PLUGIN=none: nodes stay NotReady until you install a CNI"; return; fi
  mkdir -p "$RUN/dl"
  retry curl -fsSL --connect-timeout 15 -o "$f" "$CNI_URL" || die "cannot download $CNI_URL"
  sum=$(sha256sum "$f" | cut -d' ' -f1)
  [[ $sum == "${CNI_SHA256,,}" ]] || die "$CNI_URL does not match its checksum (expected sha256 ${CNI_SHA256,,}, actual $sum): refusing to apply it"
  if [[ $CNI_PLUGIN == cilium ]]; then
    mkdir -p "$R/usr/local/bin"
    tar -xzf "$f" -C "$R/usr/local/bin" cilium || die "$CNI_URL is not a cilium-cli tarball"
    retry cilium_up || die "cilium install failed"
    return
  fi
  if [[ $CNI_PLUGIN == flannel ]]; then
    sed -i "s|10\\.244\\.0\\.0/16|$POD_CIDR|g" "$f"
    grep -qF "\"Network\": \"$POD_CIDR\"" "$f" || die "no net-conf.json Network in the flannel manifest"
  fi
  retry kubectl --kubeconfig "$kc" apply -f "$f" || die "kubectl apply of the $CNI_PLUGIN manifest failed"
}

# @end
# @control-plane-only
# systemd timers: certificate renewal (daily) and, every 5 minutes, the upgrade agent (with an
# UPGRADE_CHANNEL) and the join-token agent (with a secret store)
step_timers() {
  local u=$R/etc/systemd/system/cdktf-kubeadm- n t=(certs) on=()
  mkdir -p "${u%/*}"
  printf '[Timer]\nOnCalendar=daily\nPersistent=true\nRandomizedDelaySec=1h\n[Install]\nWantedBy=timers.target\n' >"${u}certs.timer"
  [[ -z ${UPGRADE_CHANNEL:-} ]] || t+=(upgrade)
  [[ -z ${SECRETS_SOURCE:-} ]] || t+=(token)
  for n in "${t[@]:1}"; do
    printf '[Timer]\nOnBootSec=5min\nOnUnitInactiveSec=5min\nRandomizedDelaySec=2min\n[Install]\nWantedBy=timers.target\n' >"$u$n.timer"
  done
  [[ -z ${BACKUP_TARGET:-} ]] || { t+=(backup); btimer >"${u}backup.timer"; }
  for n in "${t[@]}"; do
    printf '[Service]\nType=oneshot\nExecStart=/usr/local/sbin/cdktf-kubeadm-bootstrap %s\n' "$n" >"$u$n.service"
    on+=("cdktf-kubeadm-$n.timer")
  done
  systemctl daemon-reload
  systemctl enable --now "${on[@]}"
}
kc() { kubectl --kubeconfig "$K/admin.conf" --request-timeout 20s "$@"; }
# lease take|release: Lease kube-system/$LEASE (default cdktf-kubeadm-upgrade: one control-plane
# node at a time upgrades or restarts its static pods; the backup agent's cdktf-kubeadm-etcd-backup:
# one node takes the snapshots), held LEASE_SECONDS. Writes carry the resourceVersion read: of two
# nodes racing, one gets a conflict. Returns 1 when another node holds it (or won the race).
lease() {
  local v h r d t j n=${LEASE:-cdktf-kubeadm-upgrade} w=${LEASE_FOR:-upgrade}
  t=$(date +%s)
  j=$(kc -n kube-system get lease "$n" --ignore-not-found \
    -o jsonpath='{.metadata.resourceVersion}|{.spec.holderIdentity}|{.spec.renewTime}|{.spec.leaseDurationSeconds}') || return 2
  IFS='|' read -r v h r d <<<"$j"
  if [[ -n $h && $h != "$NODE" ]]; then
    [[ $1 == take ]] || return 0
    r=$(($(date -d "${r:-@0}" +%s) + ${d:-0} - t))
    if ((r > 0)); then log "$h holds the $w Lease for ${r}s more: trying again at the next run"; return 1; fi
  fi
  j=
  [[ $1 == release ]] || j="\"holderIdentity\":\"$NODE\",\"leaseDurationSeconds\":${LEASE_SECONDS:-3600},\"acquireTime\":\"$(date -u -d "@$t" +%FT%T.000000Z)\",\"renewTime\":\"$(date -u -d "@$t" +%FT%T.000000Z)\""
  j="{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"$n\",\"namespace\":\"kube-system\"${v:+,\"resourceVersion\":\"$v\"}},\"spec\":{$j}}"
  if [[ -n $v ]]; then v=replace; else v=create; fi
  if ! kc "$v" -f - <<<"$j" >/dev/null 2>"$RUN/lease.err"; then
    grep -qE 'Conflict|AlreadyExists' "$RUN/lease.err" || { warn "cannot write the $w Lease: $(head -c 300 "$RUN/lease.err")"; return 2; }
    log "another node wrote the $w Lease first: trying again at the next run"
    return 1
  fi
  if [[ $1 == take && $h == "$NODE" ]]; then log "renewed the $w Lease"; else log "$1 of the $w Lease kube-system/$n"; fi
}
# after a failure: the node back in service if it was drained, the Lease released
ucleanup() {
  [[ -z ${DRAINED:-} ]] || kc uncordon "$NODE" || warn "cannot uncordon $NODE"
  [[ -z ${HELD:-} ]] || lease release || warn "cannot release the upgrade Lease (it expires within an hour)"
}
# Certificate renewal (timer cdktf-kubeadm-certs, daily): when a certificate kubeadm manages expires
# within CERT_RENEW_DAYS (a third of its lifetime, at most 90), `kubeadm certs renew all`, then the
# static pods restart (manifests moved out and back: the kubelet stops and starts them), holding
# the Lease.
certs() {
  local d h=$RUN/manifests w=${CERT_RENEW_DAYS:-90}
  d=$(kubeadm certs check-expiration -o json | python3 -c 'import datetime as D,json,sys
print(min(int((D.datetime.fromisoformat(c["expirationDate"].replace("Z","+00:00")).timestamp()-int(sys.argv[1]))//86400) for c in json.load(sys.stdin)["certificates"] if not c.get("missing") and not c.get("externallyManaged")))' "$(date +%s)") ||
    die "cannot read the certificates' expiry (kubeadm certs check-expiration)"
  if ((d >= w)); then log "the first certificate expires in $d days (renewal within $w): nothing to renew"; return; fi
  lease take || return 0
  HELD=1 CLEANUP=ucleanup
  log "a certificate expires in $d days: renewing them all"
  kubeadm certs renew all || die "kubeadm certs renew all failed"
  mkdir -p "$h"
  { mv "$K"/manifests/*.yaml "$h/" && "$SLEEP" 20 && mv "$h"/*.yaml "$K/manifests/"; } || die "cannot restart the static pods: move $h/*.yaml back to $K/manifests"
  lease release || :
  HELD='' CLEANUP=:
}
# @end
# @only token
# The join-token agent (control-plane copies with a secret store or on bare metal; timer cdktf-kubeadm-token every 5 minutes with a
# secret store, the SSH provisioner on bare metal): the current token (new after a
# bootstrapTokenRotation), from the secret store's bundle or else from the join config the
# provisioner delivered, becomes a bootstrap token Secret, and the cdktf-kubeadm tokens it
# replaced are deleted. The token goes to kubectl on stdin, never on a command line.
token() {
  local t id e='' n old from=$JOIN_CONFIG
  if [[ -n ${SECRETS_SOURCE:-} ]]; then
    bundle
    t=$(python3 -c 'import base64,json,sys
b=json.load(open(sys.argv[2]))
print(json.loads(b["SecretString"] if sys.argv[1]=="aws" else base64.b64decode(b["payload"]["data"]))["bootstrapToken"])' "${SECRETS_SOURCE%%-*}" "$SB") ||
      die "secret $SECRETS_ID is not a usable cdktf-kubeadm secret bundle"
    rm -rf "$S"
    from="secret $SECRETS_ID"
  else
    t=$(sed -nE 's/^ *token: ([a-z0-9]{6}\.[a-z0-9]{16})$/\1/p' "$JOIN_CONFIG" | head -n1)
  fi
  [[ $t =~ ^([a-z0-9]{6})\.([a-z0-9]{16})$ ]] || die "$from holds no valid join token"
  id=${BASH_REMATCH[1]}
  if [[ -z $(kc -n kube-system get secret "bootstrap-token-$id" --ignore-not-found -o name) ]]; then
    ((${BOOTSTRAP_TOKEN_TTL:-0} == 0)) || e=",\"expiration\":\"$(date -u -d "@$(($(date +%s) + BOOTSTRAP_TOKEN_TTL))" +%FT%TZ)\""
    kc apply -f - >/dev/null <<<"{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"type\":\"bootstrap.kubernetes.io/token\",\"metadata\":{\"name\":\"bootstrap-token-$id\",\"namespace\":\"kube-system\"},\"stringData\":{\"description\":\"cdktf-kubeadm node join token\",\"token-id\":\"$id\",\"token-secret\":\"${BASH_REMATCH[2]}\",\"usage-bootstrap-authentication\":\"true\",\"usage-bootstrap-signing\":\"true\",\"auth-extra-groups\":\"system:bootstrappers:kubeadm:default-node-token\"$e}}" ||
      die "cannot create the bootstrap token Secret kube-system/bootstrap-token-$id"
    log "registered join token $id from $from"
  fi
  old=$(kc -n kube-system get secrets --field-selector type=bootstrap.kubernetes.io/token -o json | python3 -c 'import base64,json,sys
print("\n".join(n for n,d in ((s["metadata"]["name"],s.get("data",{})) for s in json.load(sys.stdin)["items"]) if n!=sys.argv[1] and base64.b64decode(d.get("description","")).decode()=="cdktf-kubeadm node join token"))' "bootstrap-token-$id") ||
    die "cannot list the bootstrap token Secrets in kube-system"
  for n in $old; do
    kc -n kube-system delete secret "$n" >/dev/null || die "cannot delete the replaced join token Secret kube-system/$n"
    log "deleted join token ${n#bootstrap-token-}, replaced by $id"
  done
}
# @end
# @control-plane-only
# agent upgrade|certs|token|backup: a run of the timer's job on a bootstrapped control-plane node
agent() {
  WHAT=$1 STEP=$1 LOGN=/var/log/cdktf-kubeadm-$1.log
  mkdir -p "$ST" "$RUN" "$R/var/log"
  exec > >(tee -a "$R$LOGN") 2>&1
  [[ -e $ST/done ]] || { log "the bootstrap has not finished: nothing to do"; exit 0; }
  exec 9>>"$ST/agent.lock"
  flock -n 9 || { log "another run holds $ST/agent.lock"; exit 0; }
  settings
  if [[ $1 == upgrade && -z ${UPGRADE_CHANNEL:-} || $1 == backup && -z ${BACKUP_TARGET:-} ]] || ! declare -F "$1" >/dev/null; then log "this node has no $1 agent (no UPGRADE_CHANNEL or BACKUP_TARGET): nothing to do"; exit 0; fi
  "$1"
}
# @end
# @only node-drain-rbac
# Workers that drain before termination delete their own Node: kubeadm grants nodes no delete, so
# this ClusterRole does, bound to system:nodes; NodeRestriction admits a node's delete of its own
# Node only. Every control-plane node applies it (idempotent), so a replaced one brings it along.
node_rbac() {
  kc apply -f - >/dev/null <<<'{"apiVersion":"v1","kind":"List","items":[
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"cdktf-kubeadm:node-self-delete"},"rules":[{"apiGroups":[""],"resources":["nodes"],"verbs":["delete"]}]},
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"cdktf-kubeadm:node-self-delete"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cdktf-kubeadm:node-self-delete"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"system:nodes"}]}]}'
}
step_node_rbac() {
  retry node_rbac || die "cannot apply ClusterRole cdktf-kubeadm:node-self-delete (nodes may delete their own Node when they drain)"
  log "nodes may delete their own Node when they drain (ClusterRole cdktf-kubeadm:node-self-delete, bound to system:nodes)"
}
# @end
# @only upgrade backup
# cmput CONFIGMAP PATCH: merges PATCH into ConfigMap kube-system/CONFIGMAP, created on first use
cmput() {
  local c=(kc -n kube-system patch configmap "$1" --type merge -p)
  "${c[@]}" "$2" >/dev/null 2>&1 || { kc -n kube-system create configmap "$1" >/dev/null 2>&1; "${c[@]}" "$2" >/dev/null; }
}
# @end
# @only upgrade
# between the long steps (upgrade apply, drain): the Lease stays ours for another hour. An API server
# that does not answer (restarting after `kubeadm upgrade`) is waited for, not taken for a lost Lease
# (the VM e2e of 2026-12-07: the renewal before kubeadm's second try met the restarting API server).
renew() {
  local n=0 rc
  until lease take; do
    rc=$?
    ((rc == 2)) || die "cannot renew the upgrade Lease (another node took it over): stopping before the next step"
    ((++n < WAITS)) || die "cannot renew the upgrade Lease (the API server did not answer $n times): stopping before the next step"
    "$SLEEP" 5
  done
}
usettings() {
  case $UPGRADE_CHANNEL in
    aws-ssm) need UPGRADE_PARAMETER UPGRADE_REGION ;; gce-metadata) need UPGRADE_METADATA_KEY ;; file) ;;
    *) die "UPGRADE_CHANNEL '$UPGRADE_CHANNEL' is not one of aws-ssm, gce-metadata, file" ;;
  esac
  declare -F "desired_${UPGRADE_CHANNEL%%-*}" >/dev/null || die "this copy of the script cannot read UPGRADE_CHANNEL '$UPGRADE_CHANNEL'"
}
# ustatus PHASE RESULT [ERROR]: the upgrade status, in $ST/upgrade.json and as key NODE of
# ConfigMap kube-system/cdktf-kubeadm-upgrade-status
ustatus() {
  local j e=null
  [[ -z ${3:-} ]] || e=$(js "$3")
  j=$(printf '{"from":%s,"to":%s,"phase":%s,"result":%s,"error":%s,"time":%s}' "$(js "${FROM:-}")" "$(js "${TO:-}")" "$(js "$1")" "$(js "$2")" "$e" "$(js "$(now)")")
  echo "$j" >"$ST/upgrade.json"
  # Retried: the API server may be restarting (a new kubelet re-creates the static pods), and a
  # lost "done" would leave the status at "running" for good.
  retry uput "{\"data\":{$(js "$NODE"):$(js "$j")}}" ||
    warn "cannot record the upgrade status in ConfigMap kube-system/cdktf-kubeadm-upgrade-status (this node's copy: $ST/upgrade.json)"
}
uput() { cmput cdktf-kubeadm-upgrade-status "$1"; }
desired_file() {
  [[ -s $E/desired-version ]] || { log "$E/desired-version does not exist: nothing to do"; exit 0; }
  DES=$(<"$E/desired-version")
}
# upkg VERSION PACKAGE...: pinned packages of that version, from its minor's repository
upkg() {
  local l=$R/etc/apt/sources.list.d/kubernetes.list v x p=() m=v${1%.*}
  if ! grep -q "/$m/" "$l"; then
    sed -i -E "s|/v1\.[0-9]+/|/$m/|" "$l"
    grep -q "/$m/" "$l" || die "$l names no /v1.NN/ repository to switch to $m"
  fi
  retry "${APT[@]}" update || die "apt-get update failed"
  v=$(pick kubeadm "$1-*") || die "kubeadm $1 is not available from $(<"$l")"
  for x in "${@:2}"; do p+=("$x=$v"); done
  apt-mark unhold "${@:2}"
  retry "${APT[@]}" install --allow-change-held-packages "${p[@]}" || die "installing ${p[*]} failed"
  apt-mark hold "${@:2}"
}
vnum() { local a b c; IFS=. read -r a b c <<<"$1"; echo $((a * 1000000 + b * 1000 + c)); }
# The upgrade agent (timer cdktf-kubeadm-upgrade, every 5 minutes): reads the desired version from
# UPGRADE_CHANNEL and, holding the Lease, upgrades this node the kubeadm way: kubeadm, `kubeadm
# upgrade apply` (first node: the cluster is not at that version yet) or `kubeadm upgrade node`,
# drain, kubelet and kubectl, kubelet restart, uncordon. An interrupted upgrade resumes
# ($ST/upgrade.todo); after a failure the node is uncordoned and the Lease released.
# kubeadm upgrade ARGS...: kubeadm upgrade is idempotent (its docs: run it again after a failure),
# so a run that fails on a slow API server is tried again (the VM e2e of 2026-12-07: addon/coredns's
# request timed out after the control plane had been upgraded), the Lease renewed before each retry
kupgrade() {
  [[ -z ${KTRIED:-} ]] || renew
  KTRIED=1
  kubeadm upgrade "$@"
}
upgrade() {
  local m=$ST/upgrade.todo u=$E/kubeadm-upgrade.yaml
  STATUS=ustatus STEP=check
  "desired_${UPGRADE_CHANNEL%%-*}"
  DES=${DES//[[:space:]]/} DES=${DES#v}
  [[ $DES =~ ^1\.[0-9]+\.[0-9]+$ ]] || die "the desired version '$DES' ($UPGRADE_CHANNEL) is not a version like 1.37.1"
  FROM=$(kubeadm version -o short) FROM=${FROM#v} TO=$DES
  [[ ! -s $m ]] || FROM=$(<"$m")
  [[ $DES != "$FROM" || -e $m ]] || return 0
  (($(vnum "$DES") > $(vnum "$FROM"))) || die "the desired version $DES is older than the installed $FROM: kubeadm cannot downgrade"
  (($(vnum "$DES") / 1000 <= $(vnum "$FROM") / 1000 + 1)) || die "the desired version $DES skips a minor version after $FROM: upgrade one minor at a time"
  lease take || return 0
  HELD=1 CLEANUP=ucleanup
  log "upgrading $NODE from $FROM to $DES"
  echo "$FROM" >"$m"
  STEP=kubeadm; ustatus kubeadm running
  upkg "$DES" kubeadm
  STEP=control-plane; ustatus control-plane running
  # The UpgradeConfiguration carries the patches (the rewritten static Pod manifests would lose
  # them) and kubeadmTimeouts (upgradeManifests: how long kubeadm waits before it rolls back).
  [[ -s $u ]] || die "$u is missing: it is delivered with this node's files"
  if kc -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}' | grep -qE "^kubernetesVersion: v?$DES\$"; then
    RETRIES=3 retry kupgrade node --config "$u" || die "kubeadm upgrade node failed"
  else
    RETRIES=3 retry kupgrade apply -y --config "$u" "v$DES" || die "kubeadm upgrade apply v$DES failed"
  fi
  renew
  STEP=drain; ustatus drain running
  DRAINED=1
  kc drain "$NODE" --ignore-daemonsets --delete-emptydir-data --timeout=600s || die "kubectl drain $NODE failed"
  renew
  STEP=kubelet; ustatus kubelet running
  upkg "$DES" kubelet kubectl
  systemctl daemon-reload
  systemctl restart kubelet
  STEP=uncordon
  # The new kubelet may re-create the static pods: wait for the API server before uncordoning.
  RETRIES=$WAITS retry kc get --raw=/readyz >/dev/null || die "the API server is not ready after the kubelet restart"
  retry kc uncordon "$NODE" || die "kubectl uncordon $NODE failed"
  DRAINED=''
  rm -f "$m"
  ustatus "done" succeeded
  lease release || warn "cannot release the upgrade Lease (it expires within an hour)"
  HELD='' CLEANUP=:
  log "upgraded $NODE to $DES"
}
# @end
# @only backup restore
# etcdtool etcdctl|etcdutl ARGS...: the tool from this node's etcd image (ETCD_IMAGE, else the one of
# kubeadm's etcd manifest: the version that wrote the data; kubeadm's etcd images carry both), on
# the host network, with the etcd PKI (read-only) and $BK mounted at their own paths
etcdtool() {
  local image=${ETCD_IMAGE:-}
  [[ -n $image ]] || image=$(sed -nE 's/^ *image: *"?([^" ]+)"?$/\1/p' "$K/manifests/etcd.yaml" 2>/dev/null | head -n1)
  [[ -n $image ]] || die "no image in $K/manifests/etcd.yaml: backups need the local etcd kubeadm runs"
  ctr -n k8s.io run --rm --net-host --mount "type=bind,src=$PKI/etcd,dst=$PKI/etcd,options=rbind:ro" \
    --mount "type=bind,src=$BK,dst=$BK,options=rbind:rw" "$image" "cdktf-kubeadm-etcd-$$" "$@"
}
# @end
# @only restore
# Restore (RESTORE_SNAPSHOT: a file, s3://BUCKET/KEY or gs://BUCKET/OBJECT), on control-plane slot 0
# when no API server answers: the snapshot, checked with etcdutl, becomes this node's etcd data
# directory (one member: this node at its advertise address, as kubeadm names it), and kubeadm init
# keeps it: the cluster's objects come back under the same CAs and service-account key.
restore_etcd() {
  local f j a BK=$ST/restore
  [[ $RESTORE_SNAPSHOT != s3://* ]] || need RESTORE_REGION
  rm -rf "$BK" && mkdir -m 700 "$BK"
  f=$BK/snapshot.db
  case $RESTORE_SNAPSHOT in
    s3://* | gs://*) declare -F "rfetch_${RESTORE_SNAPSHOT%%:*}" >/dev/null || die "this copy of the script cannot read RESTORE_SNAPSHOT '$RESTORE_SNAPSHOT'"
      WHY=''
      retry "rfetch_${RESTORE_SNAPSHOT%%:*}" "$f" || die "cannot download $RESTORE_SNAPSHOT${WHY:+: $WHY}" ;;
    /*) cp "$R$RESTORE_SNAPSHOT" "$f" || die "cannot read $RESTORE_SNAPSHOT: copy the snapshot to this path on the node" ;;
    *) die "RESTORE_SNAPSHOT '$RESTORE_SNAPSHOT' is not an absolute path, s3:// or gs:// URI" ;;
  esac
  # the whole list first: a reader that stops early would end kubeadm with SIGPIPE (pipefail)
  j=$(kubeadm config images list --config "$INIT_CONFIG" 2>/dev/null) || j=''
  ETCD_IMAGE=$(grep -m1 '/etcd:' <<<"$j") || die "kubeadm names no etcd image for $INIT_CONFIG"
  j=$(etcdtool etcdutl snapshot status "$f" -w json) || die "etcdutl snapshot status refuses $RESTORE_SNAPSHOT: not a usable etcd snapshot"
  a=$(sed -nE 's/^ *advertiseAddress: *"?([0-9.]+)"?$/\1/p' "$INIT_CONFIG" | head -n1)
  # kubeadm's default: the address of the interface with the default route (a lookup; nothing is sent)
  [[ -n $a ]] || a=$(ip -4 route get 1.1.1.1 | sed -nE 's/.* src ([0-9.]+).*/\1/p')
  [[ -n $a ]] || die "no advertise address for etcd: set one, or give this node a default route"
  etcdtool etcdutl snapshot restore "$f" --data-dir "$BK/etcd" --name "$NODE" --initial-cluster "$NODE=https://$a:2380" \
    --initial-advertise-peer-urls "https://$a:2380" >/dev/null || die "etcdutl snapshot restore of $RESTORE_SNAPSHOT failed"
  # /var/lib/etcd may be a mount point (a disk of its own): emptied, not replaced
  { mkdir -p "$R/var/lib/etcd" && find "$R/var/lib/etcd" -mindepth 1 -delete && mv "$BK/etcd/member" "$R/var/lib/etcd/" && chmod 700 "$R/var/lib/etcd"; } ||
    die "cannot move the restored data into /var/lib/etcd"
  rm -rf "$BK"
  log "restored etcd from $RESTORE_SNAPSHOT (revision $(sed -nE 's/.*"revision": *([0-9]+).*/\1/p' <<<"$j")) as the data of $NODE at $a"
}
# restore_then COMMAND...: the restore, then kubeadm init on the restored data (init_or_join ignores
# its preflight's DirAvailable--var-lib-etcd); a retried attempt restores again (kubeadm reset empties /var/lib/etcd)
restore_then() { restore_etcd && "$@"; }
# @end
# @only restore-s3
# rfetch_s3 FILE: GetObject of RESTORE_SNAPSHOT, signed with the instance role (its region: RESTORE_REGION)
rfetch_s3() {
  local S=$RUN/b SB=$1 b=${RESTORE_SNAPSHOT#s3://}
  rm -rf "$S" && mkdir -m 700 "$S" || return
  aws_creds || { rm -rf "$S"; return 1; }
  hq --max-time 3600 --aws-sigv4 "aws:amz:$RESTORE_REGION:s3" "${BOOTSTRAP_S3_ENDPOINT:-https://s3.$RESTORE_REGION.amazonaws.com}/$b" <"$S/k"
  sm "$RESTORE_SNAPSHOT" "the instance role $AROLE may not s3:GetObject $RESTORE_SNAPSHOT: check its IAM policy (restore) and the bucket policy" "check restore.snapshot"
  local rc=$?
  rm -rf "$S"
  return $rc
}
# @end
# @only restore-gs
# rfetch_gs FILE: RESTORE_SNAPSHOT's content, read with the service account's token
rfetch_gs() {
  local S=$RUN/b SB=$1 b=${RESTORE_SNAPSHOT#gs://} o
  o=${b#*/} b=${b%%/*}
  rm -rf "$S" && mkdir -m 700 "$S" || return
  hq --noproxy '*' -H 'Metadata-Flavor: Google' \
    "${BOOTSTRAP_IMDS_ENDPOINT:-http://metadata.google.internal}/computeMetadata/v1/instance/service-accounts/default/token" </dev/null
  if [[ $HS != 200 ]] || ! kcfg 'header = "Authorization: Bearer %s"' access_token; then rm -rf "$S"; soft "no access token from the metadata server (HTTP $HS)"; return; fi
  hq --max-time 3600 "${BOOTSTRAP_GCS_ENDPOINT:-https://storage.googleapis.com}/storage/v1/b/$b/o/${o//\//%2F}?alt=media" <"$S/k"
  sm "$RESTORE_SNAPSHOT" "the node's service account may not read $RESTORE_SNAPSHOT: grant it roles/storage.objectViewer on it (restore)" "check restore.snapshot"
  local rc=$?
  rm -rf "$S"
  return $rc
}
# @end
# @only backup
# etcd backups (timer cdktf-kubeadm-backup, every BACKUP_INTERVAL minutes on each control-plane
# node). The holder of Lease kube-system/cdktf-kubeadm-etcd-backup (kept for two intervals, so a
# dead holder's place is taken) snapshots its etcd with etcdctl, checks the file with etcdutl
# snapshot status and stores it at BACKUP_LOCATION as recent/etcd-<UTC time>.db, and the first
# snapshot of each hour and day as hourly/etcd-<hour>.db and daily/etcd-<day>.db. Clouds expire
# them with lifecycle rules; a directory is pruned here (BACKUP_RECENT_HOURS, BACKUP_HOURLY_DAYS,
# BACKUP_DAILY_DAYS). The outcome, or one line of why not, goes to ConfigMap
# kube-system/cdktf-kubeadm-etcd-backup.
bsettings() {
  need BACKUP_LOCATION BACKUP_INTERVAL
  case $BACKUP_TARGET in
    file) need BACKUP_RECENT_HOURS BACKUP_HOURLY_DAYS BACKUP_DAILY_DAYS ;; aws-s3) need BACKUP_REGION ;; gce-gcs) ;;
    *) die "BACKUP_TARGET '$BACKUP_TARGET' is not one of file, aws-s3, gce-gcs" ;;
  esac
  declare -F "bput_${BACKUP_TARGET%%-*}" >/dev/null || die "this copy of the script cannot store backups in BACKUP_TARGET '$BACKUP_TARGET'"
  BK=$ST/etcd-backup
}
# bstatus (die's STATUS while backing up): a failure's one line in the ConfigMap
bstatus() { [[ $2 != failed ]] || cmput cdktf-kubeadm-etcd-backup "{\"data\":{\"lastError\":$(js "$(now) $NODE, step $1: $3")}}"; }
bfailed() { rm -rf "$BK"; lease release || :; }
# the timer: the Lease's holder snapshots every BACKUP_INTERVAL minutes, counted from each run's start
btimer() { printf '[Timer]\nOnBootSec=%smin\nOnUnitActiveSec=%smin\nAccuracySec=10s\n[Install]\nWantedBy=timers.target\n' "$BACKUP_INTERVAL" "$BACKUP_INTERVAL"; }
bprune() { # DIR PREFIX-OF-THE-OLDEST-TO-KEEP: deletes the snapshots in DIR named before it
  local f
  for f in "$BACKUP_LOCATION/$1"/etcd-*.db; do
    [[ -e $f && ${f##*/} < "etcd-$2" ]] || continue
    rm -f "$f" && log "deleted the expired snapshot $1/${f##*/}"
  done
}
backup() {
  local f j rev size hash t stamp hour day names n done=() old kept='' ec
  LEASE=cdktf-kubeadm-etcd-backup LEASE_FOR=backup LEASE_SECONDS=$((BACKUP_INTERVAL * 120)) STATUS=bstatus
  lease take || return 0
  # a node that cannot snapshot lets another one take the next
  CLEANUP=bfailed
  STEP=snapshot f=$BK/snapshot.db
  rm -rf "$BK" && mkdir -m 700 "$BK"
  local ec=(etcdctl --endpoints=https://127.0.0.1:2379 --cacert="$PKI/etcd/ca.crt" --cert="$PKI/etcd/healthcheck-client.crt" --key="$PKI/etcd/healthcheck-client.key")
  # etcdctl retries a refused connection until its command timeout: a short check first, then the
  # snapshot with the time a large database needs
  if ! etcdtool "${ec[@]}" --command-timeout=30s endpoint status >/dev/null || ! etcdtool "${ec[@]}" --command-timeout=10m snapshot save "$f" >/dev/null; then
    die "etcdctl snapshot save failed: check this node's etcd (crictl ps --name etcd; crictl logs)"
  fi
  STEP=check
  j=$(etcdtool etcdutl snapshot status "$f" -w json) ||
    die "etcdutl snapshot status refuses the snapshot (not stored): check the disk under $BK"
  read -r hash rev size < <(python3 -c 'import json,sys;s=json.loads(sys.argv[1]);print(s["hash"],s["revision"],s["totalSize"])' "$j") ||
    die "etcdutl snapshot status printed no hash, revision and size: $j"
  chmod 600 "$f"
  t=$(date +%s)
  stamp=$(date -u -d "@$t" +%Y%m%dT%H%M%SZ) hour=${stamp:0:11} day=${stamp:0:8}
  old=$(kc -n kube-system get configmap cdktf-kubeadm-etcd-backup --ignore-not-found -o jsonpath='{.data.lastHourly} {.data.lastDaily}') || old=''
  names=("recent/etcd-$stamp.db")
  [[ " $old " == *" $hour "* ]] || names+=("hourly/etcd-$hour.db")
  [[ " $old " == *" $day "* ]] || names+=("daily/etcd-$day.db")
  STEP=store
  for n in "${names[@]}"; do
    WHY=''
    retry "bput_${BACKUP_TARGET%%-*}" "$f" "$n" || die "cannot store the snapshot as $BACKUP_LOCATION/$n${WHY:+: $WHY}"
    done+=("$n")
  done
  rm -rf "$BK"
  if [[ $BACKUP_TARGET == file ]]; then
    bprune recent "$(date -u -d "@$((t - BACKUP_RECENT_HOURS * 3600))" +%Y%m%dT%H%M%SZ)"
    bprune hourly "$(date -u -d "@$((t - BACKUP_HOURLY_DAYS * 86400))" +%Y%m%dT%H)"
    bprune daily "$(date -u -d "@$((t - BACKUP_DAILY_DAYS * 86400))" +%Y%m%d)"
  fi
  STEP=status
  j="{\"time\":$(js "$(date -u -d "@$t" +%FT%TZ)"),\"node\":$(js "$NODE"),\"revision\":$rev,\"sizeBytes\":$size,\"hash\":$hash,\"location\":$(js "$BACKUP_LOCATION/${done[0]}")}"
  [[ " ${done[*]} " != *" hourly/"* ]] || kept+="\"lastHourly\":$(js "$hour"),"
  [[ " ${done[*]} " != *" daily/"* ]] || kept+="\"lastDaily\":$(js "$day"),"
  retry cmput cdktf-kubeadm-etcd-backup "{\"data\":{$kept\"lastSnapshot\":$(js "$j"),\"lastError\":\"\"}}" ||
    warn "cannot record the snapshot in ConfigMap kube-system/cdktf-kubeadm-etcd-backup"
  CLEANUP=:
  log "snapshot of revision $rev ($size bytes) stored as ${done[*]} at $BACKUP_LOCATION"
}
# @end
# @only backup-file
# bput_file SNAPSHOT NAME: a copy (0600, directories 0700) at BACKUP_LOCATION/NAME
bput_file() {
  local d=$BACKUP_LOCATION/${2%/*} t
  t=$d/.${2##*/}.tmp
  if (umask 077 && mkdir -p "$d") && cp "$1" "$t" && chmod 600 "$t" && mv -f "$t" "$BACKUP_LOCATION/$2"; then return; fi
  rm -f "$t"
  soft "cannot write $BACKUP_LOCATION/$2 (disk full?)"
}
# @end
# @only backup-aws-s3
# bput_aws SNAPSHOT NAME: PutObject s3://BUCKET/PREFIX/NAME signed with the instance role (the
# bucket's default encryption applies its KMS key); the payload's sha256 is signed too
bput_aws() {
  local S=$RUN/b SB=$RUN/b/r b=${BACKUP_LOCATION#s3://} p
  p=${b#*/} b=${b%%/*}
  [[ $p != "$b" ]] || p=''
  rm -rf "$S" && mkdir -m 700 "$S" || return
  aws_creds || { rm -rf "$S"; return 1; }
  hq --max-time 3600 --aws-sigv4 "aws:amz:$BACKUP_REGION:s3" -H "x-amz-content-sha256: $(sha256sum "$1" | cut -d' ' -f1)" -T "$1" \
    "${BOOTSTRAP_S3_ENDPOINT:-https://s3.$BACKUP_REGION.amazonaws.com}/$b/${p:+${p%/}/}$2" <"$S/k"
  sm "bucket $b" "the instance role $AROLE may not s3:PutObject into $BACKUP_LOCATION: check its IAM policy and the bucket policy" "check the backup bucket"
  local rc=$?
  ((rc == 0)) || WHY=${WHY/#reading /writing to }
  rm -rf "$S"
  return $rc
}
# @end
# @only backup-gce-gcs
# bput_gce SNAPSHOT NAME: a new object gs://BUCKET/PREFIX/NAME (ifGenerationMatch=0: an object of
# that name is never replaced, so creating objects is the only permission needed; 412: it exists)
bput_gce() {
  local S=$RUN/b SB=$RUN/b/r b=${BACKUP_LOCATION#gs://} p
  p=${b#*/} b=${b%%/*}
  [[ $p != "$b" ]] || p=''
  rm -rf "$S" && mkdir -m 700 "$S" || return
  hq --noproxy '*' -H 'Metadata-Flavor: Google' \
    "${BOOTSTRAP_IMDS_ENDPOINT:-http://metadata.google.internal}/computeMetadata/v1/instance/service-accounts/default/token" </dev/null
  if [[ $HS != 200 ]] || ! kcfg 'header = "Authorization: Bearer %s"' access_token; then rm -rf "$S"; soft "no access token from the metadata server (HTTP $HS)"; return; fi
  p=${p:+${p%/}/}$2
  hq --max-time 3600 -X POST -H 'Content-Type: application/octet-stream' -T "$1" \
    "${BOOTSTRAP_GCS_ENDPOINT:-https://storage.googleapis.com}/upload/storage/v1/b/$b/o?uploadType=media&ifGenerationMatch=0&name=${p//\//%2F}" <"$S/k"
  [[ $HS != 412 ]] || HS=200
  sm "bucket $b" "the node's service account may not create objects in $BACKUP_LOCATION: grant it roles/storage.objectCreator on the bucket" "check the backup bucket"
  local rc=$?
  ((rc == 0)) || WHY=${WHY/#reading /writing to }
  rm -rf "$S"
  return $rc
}
# @end
# @only upgrade-aws-ssm
# SSM GetParameter signed with the instance role's credentials
ssm_get() {
  aws_creds || return
  hq --aws-sigv4 "aws:amz:$UPGRADE_REGION:ssm" -H 'X-Amz-Target: AmazonSSM.GetParameter' -H 'Content-Type: application/x-amz-json-1.1' \
    --data "{\"Name\":\"$UPGRADE_PARAMETER\"}" "${BOOTSTRAP_SSM_ENDPOINT:-https://ssm.$UPGRADE_REGION.amazonaws.com}/" <"$S/k"
  sm "SSM parameter $UPGRADE_PARAMETER" "the instance role $AROLE may not ssm:GetParameter $UPGRADE_PARAMETER: check its IAM policy" "check UPGRADE_PARAMETER and UPGRADE_REGION"
}
desired_aws() {
  S=$RUN/s SB=$RUN/s/r WHY=''
  (umask 077 && mkdir -p "$S")
  retry ssm_get || die "cannot read SSM parameter $UPGRADE_PARAMETER: $WHY"
  DES=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["Parameter"]["Value"])' "$SB") || die "no Parameter.Value in SSM's answer"
  rm -rf "$S"
}
# @end
# @only upgrade-gce-metadata
gce_key() {
  hq --noproxy '*' -H 'Metadata-Flavor: Google' \
    "${BOOTSTRAP_IMDS_ENDPOINT:-http://metadata.google.internal}/computeMetadata/v1/project/attributes/$UPGRADE_METADATA_KEY" </dev/null
  [[ $HS != 404 ]] || die "project metadata key $UPGRADE_METADATA_KEY is not set"
  [[ $HS == 200 ]] || soft "reading project metadata key $UPGRADE_METADATA_KEY: HTTP $HS"
}
desired_gce() {
  S=$RUN/s SB=$RUN/s/r WHY=''
  (umask 077 && mkdir -p "$S")
  retry gce_key || die "cannot read project metadata key $UPGRADE_METADATA_KEY: $WHY"
  DES=$(<"$SB")
  rm -rf "$S"
}
# @end
main() {
  STEP=preflight
  [[ $(id -u) == 0 ]] || die "must run as root: run it with sudo"
  case ${1:-} in
    '') ;;
    upgrade | certs | token | backup) declare -F agent >/dev/null || die "'$1' runs on control-plane nodes only"; agent "$1"; return ;;
    drain | drain-watch) declare -F drain_agent >/dev/null || die "'$1' runs on workers of AWS and GCE node pools only"; drain_agent "$1"; return ;;
    *) die "unknown argument '$1': run it without arguments (bootstrap), or with upgrade, certs, token, backup, drain or drain-watch" ;;
  esac
  STEP=start
  mkdir -p "$ST" "$RUN" "$R/var/log"
  logs
  if [[ -e $ST/done ]]; then log "already bootstrapped ($ST/done exists): nothing to do"; exit 0; fi
  exec 9>>"$ST/lock"
  flock -n 9 || die "another bootstrap run holds $ST/lock"
  STARTED=${BOOTSTRAP_STARTED:-$(now)} STEP=settings
  [[ ! -e $A ]] || restore # after a kubeadm reset that was interrupted
  settings
  local s steps="preflight install cluster"
  [[ $NODE_ROLE == worker ]] || steps="preflight install images cluster cni timers"
  ! declare -F step_drain_watch >/dev/null || steps+=" drain_watch"
  ! declare -F step_node_rbac >/dev/null || steps=${steps/timers/node_rbac timers}
  [[ -z ${SECRETS_SOURCE:-} ]] || steps=${steps/preflight/preflight secrets}
  log "bootstrap of $NODE ($NODE_ROLE${CP_SLOT:+ slot $CP_SLOT}) in cluster $CLUSTER_NAME, Kubernetes $K8S_VERSION"
  for s in $steps; do
    STEP=$s
    if [[ -e $ST/step-$s.done ]]; then log "already completed in an earlier run"; continue; fi
    status "$s" running
    log "starting"
    "step_$s"
    touch "$ST/step-$s.done"
  done
  STEP='done'
  touch "$ST/done"
  status 'done' succeeded
  log "cdktf-kubeadm bootstrap succeeded"
}
# @stage1
main "$@"
# @end
