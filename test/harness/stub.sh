#!/usr/bin/env bash
# Stand-in for the external commands the bootstrap script runs. The harness links it into a bin/
# directory under each command's name (or runs it with STUB_AS=<name>). Every call appends
# "<name> <args>" to $STUB_CALLS; behaviour is controlled by files in $STUB_CTL:
#   fail/<rule>      injected failure: line 1 substring of "<name> <args>", line 2 remaining count
#                    (-1 = always), line 3 exit code, line 4 message on stderr
#   uid arch hostname epoch ntp ss madison-<package> release.key docker.key download token
#   containerd-config containerd-version api-up etcd-pods etcd-members sysctl-<key>   (see index.ts)
#   node-registered  the Node exists; its content is what `kubectl get node -o jsonpath=...` prints
#   ds-<name>        the DaemonSet kube-system/<name> exists (`cilium install` creates ds-cilium)
#   cilium-timeout   the next `cilium install` fails after creating the DaemonSet (one-shot)
#   kill-after       substring of "<name> <args>": after doing its work, that call SIGKILLs its
#                    parent (the script), like a reboot right after the command returned; one-shot
#   iptables-nat     the nat rules added by `iptables -t nat -A` (one per line; -C checks, -D deletes)
#   applied/<n>      written by the kubectl stub: copies of the files given to `kubectl apply -f`
#   http/<rule>      scripted HTTP answers for curl (metadata servers, secret stores), tried in name
#                    order: line 1 substring of "METHOD URL", line 2 remaining count (-1 = always),
#                    line 3 status (000 = cannot connect), further lines what the request must carry
#                    ("Header: value", "user KEY:SECRET", "aws-sigv4 PROVIDER", "data BODY"), else
#                    401; the body is http/<rule>.body. Headers and --user may come from a curl
#                    config on stdin (-K -), which is not recorded in $STUB_CALLS.
#   api-version      what GET https://<endpoint>/version answers (default gitVersion v1.36.4)
#   kubeadm-version  `kubeadm version -o short` (default v1.36.4); `apt-get install kubeadm=V-*`
#                    sets it to vV, like installing the package
#   cluster-version  kubernetesVersion of the kubeadm-config ClusterConfiguration (default v1.36.4);
#                    `kubeadm upgrade apply -y vV` sets it
#   certs-expiry     JSON `kubeadm certs check-expiration -o json` prints
#   lease            the Lease kube-system/cdktf-kubeadm-upgrade (JSON; `get lease` prints the jsonpath
#                    rv|holder|renewTime|duration the script asks for; resourceVersion counted up by
#                    create -f / replace -f, which refuse an existing object / a stale resourceVersion);
#                    lease-history gets "<verb> <holderIdentity>" per write
#   cm-<name>.json   ConfigMaps in kube-system made by `kubectl create configmap`, merged by
#                    `kubectl patch configmap --type merge -p` (NotFound when absent)
#   node-pods.json   the pods `kubectl get pods -A --field-selector spec.nodeName=` lists; an eviction
#                    (`create --raw .../eviction`) marks one terminating, the list after next drops it
#   pdb-<ns>_<pod>   evictions of that pod a PodDisruptionBudget refuses (HTTP 429): count, -1 = always
#   sleep-advances-epoch   fake-sleep N adds N to epoch
#   snapshot         what `ctr ... etcdctl snapshot save FILE` writes (default "stub etcd snapshot");
#                    snapshot-status what `ctr ... etcdutl snapshot status FILE -w json` prints
# Keys served for Release.key / .../gpg carry their primary fingerprints as "fpr <hex>" lines,
# which `gpg --show-keys` reports.
set -uo pipefail
name=${STUB_AS:-${0##*/}}
unset STUB_AS
C=${STUB_CTL:?STUB_CTL is not set}
R=${BOOTSTRAP_ROOT:-}
printf '%s\n' "$name $*" >>"${STUB_CALLS:?STUB_CALLS is not set}"

for rule in "$C"/fail/*; do
  [[ -f $rule ]] || continue
  { read -r match; read -r count; read -r code; read -r msg; } <"$rule"
  if [[ "$name $*" == *"$match"* && $count != 0 ]]; then
    [[ $count == -1 ]] || printf '%s\n%s\n%s\n%s\n' "$match" $((count - 1)) "$code" "$msg" >"$rule"
    printf '%s\n' "${msg:-stub $name: injected failure}" >&2
    exit "${code:-1}"
  fi
done

ctl() { if [[ -f $C/$1 ]]; then cat "$C/$1"; else printf '%s\n' "${2-}"; fi; }
# Value of the argument following flag $1 in the remaining arguments.
opt() { local f=$1; shift; while (($#)); do if [[ $1 == "$f" ]]; then printf '%s' "${2-}"; return; fi; shift; done; }

case $name in
  id) [[ ${1-} == -u ]] && ctl uid 0 ;;
  uname)
    case ${1-} in -m) ctl arch x86_64 ;; -r) echo 6.8.0-stub ;; *) echo Linux ;; esac ;;
  hostname) ctl hostname stub-worker-1 ;;
  sysctl) [[ ${1-} == -n ]] && ctl "sysctl-$2" 1 ;;
  ss) [[ -f $C/ss ]] && cat "$C/ss" ;;
  timedatectl) ctl ntp yes ;;
  date)
    if [[ ${1-} == +%s && -f $C/epoch ]]; then cat "$C/epoch"; else exec /bin/date "$@"; fi ;;
  fake-sleep)
    # with a fixed clock (epoch) and sleep-advances-epoch, a sleep moves the clock on
    if [[ -f $C/epoch && -f $C/sleep-advances-epoch ]]; then echo $(($(<"$C/epoch") + ${1:-0})) >"$C/epoch"; fi ;;
  apt-get)
    for a; do [[ $a != kubeadm=* ]] || { v=${a#kubeadm=}; echo "v${v%%-*}" >"$C/kubeadm-version"; }; done ;;
  apt-cache) [[ ${1-} == madison && -f $C/madison-${2-} ]] && cat "$C/madison-$2" ;;
  containerd)
    case ${1-} in
      config) cat "$C/containerd-config" ;;
      --version) ctl containerd-version "containerd github.com/containerd/containerd/v2 v2.1.4 75cb2b7" ;;
    esac ;;
  gpg)
    if [[ " $* " == *" --show-keys "* ]]; then
      while read -r tag fpr; do
        [[ $tag == fpr ]] || continue
        printf 'pub:-:4096:1:%s:1690000000:::-:::scESC::::::23::0:\nfpr:::::::::%s:\n' "${fpr: -16}" "$fpr"
        printf 'uid:-::::1690000000::0000::isv:kubernetes OBS Project::::::::::0:\n'
        printf 'sub:-:4096:1:1111222233334444:1690000000::::::e::::::23:\nfpr:::::::::00001111222233334444555566667777AAAABBBB:\n'
      done <"${!#}"
    elif [[ " $* " == *" --dearmor "* ]]; then
      cp "${!#}" "$(opt -o "$@")"
    fi ;;
  curl)
    url='' out=$(opt -o "$@")
    for a; do [[ $a == http*://* ]] && url=$a; done
    emit() { if [[ -n $out ]]; then cp "$1" "$out"; else cat "$1"; fi; }
    if [[ -d $C/http ]]; then
      method=GET have=() prev=''
      for a; do
        case $prev in
          -X) method=$a ;; -H) have+=("$a") ;; -u | --user) have+=("user $a") ;; --aws-sigv4) have+=("aws-sigv4 $a") ;;
          --data) have+=("data $a") && [[ $method != GET ]] || method=POST ;;
          -T) have+=("upload-sha256 $(sha256sum <"$a" | cut -d' ' -f1)") && [[ $method != GET ]] || method=PUT ;;
        esac
        prev=$a
      done
      if [[ " $* " == *" -K - "* ]]; then
        while IFS= read -r line; do
          if [[ $line =~ ^header\ =\ \"(.*)\"$ ]]; then have+=("${BASH_REMATCH[1]}")
          elif [[ $line =~ ^user\ =\ \"(.*)\"$ ]]; then have+=("user ${BASH_REMATCH[1]}"); fi
        done
      fi
      for rule in "$C"/http/*; do
        [[ -f $rule && $rule != *.body ]] || continue
        mapfile -t L <"$rule"
        [[ "$method $url" == *"${L[0]}"* && ${L[1]} != 0 ]] || continue
        [[ ${L[1]} == -1 ]] || { L[1]=$((L[1] - 1)); printf '%s\n' "${L[@]}" >"$rule"; }
        code=${L[2]} body=$rule.body
        for need in "${L[@]:3}"; do
          ok=''; for h in "${have[@]}"; do [[ $h != "$need" ]] || ok=1; done
          [[ -n $ok ]] || { code=401 body=$C/http-unauthorized; echo '{"message":"stub: a required header or credential is missing"}' >"$body"; }
        done
        if [[ $code == 000 ]]; then
          [[ " $* " != *" -w "* ]] || printf 000
          echo "curl: (7) Failed to connect to ${url#*//}: Connection refused" >&2; exit 7
        fi
        if [[ $code -ge 400 && " $* " == *" -f"* ]]; then echo "curl: (22) The requested URL returned error: $code" >&2; exit 22; fi
        emit "$body"
        [[ " $* " != *" -w "* ]] || printf '%s' "$code"
        exit 0
      done
    fi
    case $url in
      */cluster-info)
        # by default the cluster knows the token of the node's join config (scripted answers: http/)
        id=$(sed -nE 's/^ *token: ([a-z0-9]{6})\..*/\1/p' "${BOOTSTRAP_ROOT:-}/etc/cdktf-kubeadm/kubeadm-join.yaml" 2>/dev/null | head -n1)
        printf '{"kind":"ConfigMap","data":{"jws-kubeconfig-%s":"stub-signature","kubeconfig":"stub"}}\n' "$id" ;;
      */version) ctl api-version '{"major":"1","minor":"36","gitVersion":"v1.36.4","platform":"linux/amd64"}' ;;
      */api/v1/nodes/*)
        # by default every control-plane Node runs the API server's version (scripted answers: http/)
        v=$(ctl api-version '{"gitVersion":"v1.36.4"}' | sed -nE 's/.*"gitVersion": *"([^"]+)".*/\1/p')
        printf '{"kind":"Node","metadata":{"name":"%s"},"status":{"nodeInfo":{"kubeletVersion":"%s"}}}' "${url##*/}" "$v"
        [[ " $* " != *" -w "* ]] || printf 200 ;;
      */livez)
        ep=${url#https://} ep=${ep%/livez}
        if [[ -f $C/api-up ]] && grep -qxF -e "$ep" -e '*' "$C/api-up"; then echo ok; else
          echo "curl: (7) Failed to connect to ${ep%:*} port ${ep##*:}" >&2; exit 7; fi ;;
      */Release.key) emit "$C/release.key" ;;
      */gpg) emit "$C/docker.key" ;;
      *)
        if [[ -f $C/download ]]; then emit "$C/download"; else echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; fi ;;
    esac ;;
  ip)
    # a route lookup answers as on a node whose default route leaves eth0 at 10.0.0.10
    [[ " $* " != *" route get "* ]] || echo "${!#} via 10.0.0.1 dev eth0 src 10.0.0.10 uid 0" ;;
  ctr)
    # ctr -n k8s.io run [--options] IMAGE ID etcdctl|etcdutl ARGS...
    while (($#)) && [[ $1 != etcdctl && $1 != etcdutl ]]; do shift; done
    case "$*" in
      "etcdctl "*" endpoint status") echo "https://127.0.0.1:2379, 8e9e05c52164694d, 3.6.8, 2.5 MB, true, false, 2, 4242, 4242, " ;;
      "etcdctl "*" snapshot save "*) if [[ -f $C/snapshot ]]; then cat "$C/snapshot"; else printf 'stub etcd snapshot'; fi >"${!#}" ;;
      "etcdutl snapshot restore "*) mkdir -p "$(opt --data-dir "$@")/member/snap" && echo "stub restored data" >"$(opt --data-dir "$@")/member/snap/db" ;;
      "etcdutl snapshot status "*) ctl snapshot-status '{"hash":3135210123,"revision":4242,"totalKey":917,"totalSize":2461696,"version":"3.6.0"}' ;;
      *) echo "stub ctr: unexpected $*" >&2; exit 1 ;;
    esac ;;
  kubeadm)
    K=$R/etc/kubernetes
    # what init and join --control-plane leave on the node: leaf certificates, static pods, etcd data
    control_plane() {
      mkdir -p "$K/pki/etcd" "$K/manifests" "$R/var/lib/etcd/member"
      for f in apiserver.crt apiserver.key etcd/server.crt etcd/server.key; do echo "stub $f" >"$K/pki/$f"; done
      for f in etcd kube-apiserver kube-controller-manager kube-scheduler; do echo "kind: Pod # $f" >"$K/manifests/$f.yaml"; done
      echo "stub admin kubeconfig" >"$K/admin.conf"
    }
    case "${1-} ${2-}" in
      "init "*)
        control_plane && echo "stub kubelet kubeconfig" >"$K/kubelet.conf"
        echo "Your Kubernetes control-plane has initialized successfully!"
        # real kubeadm prints the token unless --skip-token-print: print it anyway to test redaction
        echo "  kubeadm join 10.0.0.100:6443 --token $(ctl token) --discovery-token-ca-cert-hash sha256:0123" ;;
      "join "*)
        if grep -q '^controlPlane:' "$(opt --config "$@")"; then
          control_plane
        else
          # real kubeadm's preflight on a worker (FileAvailable checks), then the CA from discovery
          for f in pki/ca.crt kubelet.conf bootstrap-kubelet.conf; do
            if [[ -e $K/$f ]]; then
              printf '[preflight] Some fatal errors occurred:\n\t[ERROR FileAvailable--etc-kubernetes-%s]: /etc/kubernetes/%s already exists\n' "${f//\//-}" "$f" >&2
              exit 1
            fi
          done
          mkdir -p "$K/pki" && echo "stub CA from discovery" >"$K/pki/ca.crt"
        fi
        echo "stub kubelet kubeconfig" >"$K/kubelet.conf" && echo "This node has joined the cluster" ;;
      "version -o") ctl kubeadm-version v1.36.4 ;;
      "config images") printf 'registry.k8s.io/kube-apiserver:v1.36.4\nregistry.k8s.io/etcd:3.6.8-0\nregistry.k8s.io/pause:3.10.2\n' ;;
      "upgrade apply") echo "${!#}" >"$C/cluster-version"; echo "[upgrade] SUCCESS! A control plane node of your cluster was upgraded to \"${!#}\"." ;;
      "upgrade node") echo "[upgrade] The control plane instance for this node was successfully upgraded!" ;;
      "certs check-expiration") ctl certs-expiry '{"kind":"CertificateExpirationInfo","certificates":[{"name":"apiserver","expirationDate":"2099-01-01T00:00:00Z"}]}' ;;
      "certs renew") echo "Done renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd" ;;
      "kubeconfig user") printf 'apiVersion: v1\nkind: Config\nusers:\n- name: janitor\n  user:\n    client-key-data: JANITOR-SECRET-KEY\n' ;;
      "reset "*)
        # like kubeadm reset (cleanup-node): contents of these directories, then these files
        echo "[reset] Deleting contents of directories: [$K/manifests $R/var/lib/kubelet $K/pki]"
        for d in "$K/manifests" "$R/var/lib/kubelet" "$K/pki" "$R/var/lib/etcd"; do [[ ! -d $d ]] || find "$d" -mindepth 1 -delete; done
        for f in admin.conf super-admin.conf kubelet.conf bootstrap-kubelet.conf controller-manager.conf scheduler.conf; do rm -f "$K/$f"; done ;;
    esac ;;
  kubectl)
    case " $* " in
      *" get pods -A --field-selector spec.nodeName="*)
        f=$C/node-pods.json
        [[ -f $f ]] || echo '{"items":[]}' >"$f"
        # the list as it is; pods it shows terminating are gone from the next one
        python3 -c 'import json,sys
l=json.load(open(sys.argv[1]));print(json.dumps(l))
l["items"]=[p for p in l["items"] if "deletionTimestamp" not in p["metadata"]];json.dump(l,open(sys.argv[1],"w"))' "$f" ;;
      *" create --raw /api/v1/namespaces/"*"/eviction "*)
        IFS=/ read -r _ _ _ _ ns _ pod _ <<<"$(opt --raw "$@")"
        cat >/dev/null
        block=$C/pdb-${ns}_$pod
        if [[ -f $block && $(<"$block") != 0 ]]; then
          n=$(<"$block"); [[ $n == -1 ]] || echo $((n - 1)) >"$block"
          echo "Error from server (TooManyRequests): Cannot evict pod as it would violate the pod's disruption budget." >&2; exit 1
        fi
        python3 -c 'import json,sys
l=json.load(open(sys.argv[1]))
for p in l["items"]:
  if (p["metadata"]["namespace"],p["metadata"]["name"])==(sys.argv[2],sys.argv[3]): p["metadata"]["deletionTimestamp"]="2026-12-07T00:00:00Z"
json.dump(l,open(sys.argv[1],"w"))' "$C/node-pods.json" "$ns" "$pod"
        echo '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success"}' ;;
      *" get node "*)
        if [[ -f $C/node-registered ]]; then cat "$C/node-registered"
        elif [[ " $* " != *" --ignore-not-found "* ]]; then echo 'Error from server (NotFound): nodes not found' >&2; exit 1; fi ;;
      *" get ds "*)
        ds=$(opt ds "$@")
        if [[ -f $C/ds-$ds ]]; then echo "daemonset.apps/$ds"
        elif [[ " $* " != *" --ignore-not-found "* ]]; then echo "Error from server (NotFound): daemonsets.apps \"$ds\" not found" >&2; exit 1; fi ;;
      *" get pods "*) [[ -f $C/etcd-pods ]] && cat "$C/etcd-pods" ;;
      *" member list "*) [[ -f $C/etcd-members ]] && cat "$C/etcd-members" ;;
      *" member remove "*) echo "Member ${!#} removed from cluster" ;;
      *" get lease "*)
        if [[ -f $C/lease ]]; then
          python3 -c 'import json,sys;l=json.load(open(sys.argv[1]));s=l["spec"];print("|".join(str(x) for x in (l["metadata"]["resourceVersion"],s.get("holderIdentity",""),s.get("renewTime",""),s.get("leaseDurationSeconds",""))),end="")' "$C/lease"
        elif [[ " $* " != *" --ignore-not-found "* ]]; then echo 'Error from server (NotFound): leases.coordination.k8s.io not found' >&2; exit 1; fi ;;
      *" create -f "* | *" replace -f "*)
        verb=create; [[ " $* " != *" replace "* ]] || verb=replace
        f=$(opt -f "$@")
        [[ $f != - ]] || { f=$C/lease-in.json; cat >"$f"; }
        python3 - "$verb" "$f" "$C/lease" <<'EOF' || exit 1
import json, os, sys
v, f, c = sys.argv[1:]
o = json.load(open(f))
n = o["metadata"]["name"]
if v == "create":
    if os.path.exists(c):
        sys.exit('Error from server (AlreadyExists): leases.coordination.k8s.io "%s" already exists' % n)
    rv = 0
else:
    if not os.path.exists(c):
        sys.exit('Error from server (NotFound): leases.coordination.k8s.io "%s" not found' % n)
    rv = int(json.load(open(c))["metadata"]["resourceVersion"])
    if o["metadata"].get("resourceVersion") != str(rv):
        sys.exit('Error from server (Conflict): Operation cannot be fulfilled on leases.coordination.k8s.io "%s": the object has been modified; please apply your changes to the latest version and try again' % n)
o["metadata"]["resourceVersion"] = str(rv + 1)
json.dump(o, open(c, "w"))
open(c + "-history", "a").write("%s %s\n" % (v, o["spec"].get("holderIdentity", "")))
print("lease.coordination.k8s.io/%s %sd" % (n, v))
EOF
        ;;
      *" create configmap "*)
        cm=$C/cm-$(opt configmap "$@").json
        if [[ -f $cm ]]; then echo "Error from server (AlreadyExists): configmaps already exists" >&2; exit 1; fi
        echo '{"data":{}}' >"$cm" ;;
      *" patch configmap "*)
        cm=$C/cm-$(opt configmap "$@").json
        [[ -f $cm ]] || { echo "Error from server (NotFound): configmaps \"$(opt configmap "$@")\" not found" >&2; exit 1; }
        python3 -c 'import json,sys;c=json.load(open(sys.argv[1]));c["data"].update(json.loads(sys.argv[2])["data"]);json.dump(c,open(sys.argv[1],"w"))' "$cm" "$(opt -p "$@")" ;;
      *" get configmap kubeadm-config "*)
        printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: %s\n' "$(ctl cluster-version v1.36.4)" ;;
      *" get configmap "*)
        # -o jsonpath of {.data.KEY} fields (absent keys print nothing, as kubectl does)
        cm=$C/cm-$(opt configmap "$@").json
        if [[ -f $cm ]]; then python3 -c 'import json,re,sys;d=json.load(open(sys.argv[1]))["data"];print(re.sub(r"\{\.data\.(\w+)\}",lambda m:d.get(m.group(1),""),sys.argv[2]),end="")' "$cm" "$(opt -o "$@" | sed 's/^jsonpath=//')"
        elif [[ " $* " != *" --ignore-not-found "* ]]; then echo "Error from server (NotFound): configmaps \"$(opt configmap "$@")\" not found" >&2; exit 1; fi ;;
      *" get secret "*)
        sec=$C/secrets/$(opt secret "$@").json
        if [[ -f $sec ]]; then echo "secret/$(opt secret "$@")"
        elif [[ " $* " != *" --ignore-not-found "* ]]; then echo 'Error from server (NotFound): secrets not found' >&2; exit 1; fi ;;
      *" get secrets "*)
        # bootstrap token Secrets as the API returns them: stringData becomes base64 data
        python3 -c 'import base64,glob,json,sys
items=[json.load(open(f)) for f in sorted(glob.glob(sys.argv[1]+"/*.json"))]
for i in items: i["data"]={k:base64.b64encode(v.encode()).decode() for k,v in i.pop("stringData",{}).items()}
print(json.dumps({"items":items}))' "$C/secrets" ;;
      *" delete secret "*)
        sec=$C/secrets/$(opt secret "$@").json
        [[ -f $sec ]] || { echo "Error from server (NotFound): secrets \"$(opt secret "$@")\" not found" >&2; exit 1; }
        rm -f "$sec"; echo "secret \"$(opt secret "$@")\" deleted" ;;
      *" apply -f - "*)
        mkdir -p "$C/applied" "$C/secrets"
        in=$C/applied/$(find "$C/applied" -type f | wc -l); cat >"$in"
        python3 -c 'import json,sys;o=json.load(open(sys.argv[1]));o["kind"]=="Secret" and json.dump(o,open(sys.argv[2]+"/"+o["metadata"]["name"]+".json","w"))' "$in" "$C/secrets" ;;
      *" apply "*)
        mkdir -p "$C/applied"
        cp "$(opt -f "$@")" "$C/applied/$(find "$C/applied" -type f | wc -l)" ;;
    esac ;;
  iptables)
    [[ ${1-} == -t && ${2-} == nat ]] || exit 0
    op=$3; shift 3; rule="$*"; f=$C/iptables-nat; touch "$f"
    case $op in
      -C) grep -qxF -- "$rule" "$f" || exit 1 ;;
      -A) printf '%s\n' "$rule" >>"$f" ;;
      -D) grep -qxF -- "$rule" "$f" || { echo "iptables: Bad rule (does a matching rule exist in that chain?)." >&2; exit 1; }
          awk -v r="$rule" 'd || $0 != r { print; next } { d = 1 }' "$f" >"$f.new" && mv "$f.new" "$f" ;;
    esac ;;
  cilium-cli)
    if [[ ${1-} == install ]]; then
      : >"$C/ds-cilium"
      if [[ -f $C/cilium-timeout ]]; then rm -f "$C/cilium-timeout"; echo "Error: timed out waiting for Cilium to become ready" >&2; exit 1; fi
    fi ;;
esac
if [[ -f $C/kill-after && "$name $*" == *"$(cat "$C/kill-after")"* ]]; then
  rm -f "$C/kill-after"
  kill -KILL "$PPID"
fi
exit 0
