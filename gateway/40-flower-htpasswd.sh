#!/bin/sh
# Write the htpasswd nginx checks for /flower/metrics (Flower leaves it open) from
# FLOWER_BASIC_AUTH, Flower's own "user:password[,user:password...]" setting.
# Runs from the official image's /docker-entrypoint.d before nginx starts; fails closed.
set -eu

# FLOWER_HTPASSWD is also the path the template gives auth_basic_user_file.
out="${FLOWER_HTPASSWD:-/etc/nginx/flower.htpasswd}"

if [ -z "${FLOWER_BASIC_AUTH:-}" ]; then
    echo "$0: FLOWER_BASIC_AUTH is not set; refusing to serve /flower/metrics unguarded" >&2
    exit 1
fi

# Follow a symlink (the image points the path into a writable directory).
target="$(readlink -f "$out" 2>/dev/null || echo "$out")"
tmp="$(mktemp "$(dirname "$target")/.flower.htpasswd.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
umask 077

old_ifs="$IFS"
IFS=','
for cred in $FLOWER_BASIC_AUTH; do
    case "$cred" in
        ?*:?*) ;;
        *) echo "$0: FLOWER_BASIC_AUTH entries must be user:password" >&2; exit 1 ;;
    esac
    # The password may itself contain ':'; the user name may not.
    printf '%s:{PLAIN}%s\n' "${cred%%:*}" "${cred#*:}" >> "$tmp"
done
IFS="$old_ifs"

chmod 0600 "$tmp"
mv -f "$tmp" "$target"
trap - EXIT
echo "$0: wrote $(grep -c . "$target") credential(s) to $out for /flower/metrics"
