#!/bin/sh
# Recaptures what libvirt really returns for the golden guests and a few variants, using the
# test driver (no daemon; its state lasts for ONE virsh session, so each case is one session).
# Run from anywhere after changing the goldens; review the diff before committing.
#   NAME.dumpxml.xml   virsh dumpxml after defining NAME            (virDomainGetXMLDesc)
#   NAME.metadata.xml  virsh metadata NAME URI                      (virDomainGetMetadata)
set -eu
cd "$(dirname "$0")"
URI=https://nodeagent.dev/xmlns/guest/1
GOLDEN=../golden
session() { virsh -q -c test:///default "$1"; }

# virsh's echo writes no newline: split at the marker itself.
save() { # save CASE OUTPUT
    printf '%s' "${2%%==METADATA==*}" > "$1.dumpxml.xml"
    printf '%s\n' "${2#*==METADATA==}" > "$1.metadata.xml"
}

capture() { # capture CASE DOMAIN-XML-FILE DOMAIN-NAME
    save "$1" "$(session "define $2; dumpxml $3; echo ==METADATA==; metadata $3 $URI")"
}

capture minimal-kernel $GOLDEN/minimal-kernel.xml tiny
capture disk-boot $GOLDEN/disk-boot.xml web-1
capture all-tunables $GOLDEN/all-tunables.xml db-2
capture escaped-labels $GOLDEN/escaped-labels.xml esc.test-3

# The same metadata under another prefix, and as a default namespace.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/nodeagent:/na:/g; s/xmlns:nodeagent=/xmlns:na=/' $GOLDEN/disk-boot.xml > "$tmp/other-prefix.xml"
capture other-prefix "$tmp/other-prefix.xml" web-1
sed 's/nodeagent://g; s/xmlns:nodeagent=/xmlns=/' $GOLDEN/disk-boot.xml > "$tmp/default-namespace.xml"
capture default-namespace "$tmp/default-namespace.xml" web-1

# Metadata written through virDomainSetMetadata (key nodeagent) onto a guest that had none.
sed '/<metadata>/,/<\/metadata>/d' $GOLDEN/escaped-labels.xml > "$tmp/nometa.xml"
# virsh reads one line: drop the indentation and the newlines (never part of a value).
element=$(sed 's/^ *//' $GOLDEN/escaped-labels.setmetadata.xml | tr -d '\n')
save set-metadata "$(session "define $tmp/nometa.xml; metadata esc.test-3 $URI --key nodeagent --set \"$element\"; dumpxml esc.test-3; echo ==METADATA==; metadata esc.test-3 $URI")"

# Unknown elements (ours and foreign), odd whitespace, a newer spec version; a malformed flag.
capture future-fields future-fields.input.xml future-1
capture malformed-protected malformed-protected.input.xml broken-1

# A foreign guest: the test driver's built-in domain, without our metadata.
session "dumpxml test" > foreign-test.dumpxml.xml
