#!/bin/sh
# fetch.sh — put the case study's inputs into DEST: the Qwen2.5-0.5B-Instruct F16 GGUF and
# WikiText-2 raw (wiki.test.raw). Layout written under DEST (the same as ../shared/data):
#
#   DEST/models/qwen2.5-0.5b-instruct/qwen2.5-0.5b-instruct-fp16.gguf
#   DEST/wikitext-2-raw/wiki.test.raw
#
# Sources, tried in order for each file:
#   1. DEST already holds a verified copy: nothing to do.
#   2. $QK_DATA_DIR (default: ../shared/data beside the repository) holds it under the same
#      relative path (or models/<file name> for the model): it is linked (QK_FETCH_COPY=1
#      copies instead).
#   3. Download with curl (or wget):
#        model: https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-fp16.gguf
#        text:  wikitext-2-raw-v1.zip from the ggml-org CI mirror on Hugging Face (the file
#               llama.cpp's scripts/get-wikitext-2.sh uses), else the original S3 location;
#               wiki.test.raw is extracted from it.
#
# Verification:
#   wiki.test.raw          1,290,590 bytes, sha256 173c87a5...dd08 (../shared/data/SOURCES.md)
#   wikitext-2-raw-v1.zip  4,721,645 bytes, sha256 ef7edb56...5a11 (SOURCES.md)
#   model GGUF             starts with "GGUF"; size and sha256 as published by Hugging Face
#                          (the X-Linked-Size / X-Linked-ETag headers of the download URL,
#                          which carry the LFS object's size and sha256), or $QK_MODEL_SHA256.
# Downloads go to "<file>.part" and are renamed only after verification.
#
# QK_FETCH_NO_DOWNLOAD=1 turns step 3 off (the tests use it: they never download).
# QK_FETCH_MODEL_OPTIONAL=1: a model that cannot be had is reported as a warning, not an
# error (the exit status is still 1): the caller has a fallback (scripts/study.sh).
# --check: verify what DEST holds; download and link nothing. Exit 0 when every file is
# present and verified, 1 otherwise. Tests never call this script without --check.
#
# Usage: datasets/fetch.sh [--check] [--text-only] DEST
set -eu

WIKI_SHA=173c87a53759e0201f33e0ccf978e510c2042d7f2cb78229d9a50d79b9e7dd08
WIKI_SIZE=1290590
ZIP_SHA=ef7edb566e3e2b2d31b29c1fdb0c89a4cc683597484c3dc2517919c615435a11
ZIP_SIZE=4721645
ZIP_URLS="https://huggingface.co/datasets/ggml-org/ci/resolve/main/wikitext-2-raw-v1.zip
https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-raw-v1.zip"
MODEL_FILE=qwen2.5-0.5b-instruct-fp16.gguf
MODEL_REL=models/qwen2.5-0.5b-instruct/$MODEL_FILE
MODEL_URL=https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/$MODEL_FILE
WIKI_REL=wikitext-2-raw/wiki.test.raw

me=fetch.sh
say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() { printf '%s: error: %s\n' "$me" "$*" >&2; exit 1; }

usage() {
    cat <<EOF
usage: datasets/fetch.sh [--check] [--text-only] DEST

Puts the Qwen2.5-0.5B-Instruct F16 GGUF and WikiText-2 raw (wiki.test.raw) into DEST,
linking them from \$QK_DATA_DIR (default: ../shared/data beside the repository) when
present there, else downloading them (curl or wget) and verifying size and sha256.

  --check      only verify DEST; exit 1 if anything is missing or wrong
  --text-only  skip the model (about 1 GB)
  -h, --help   show this help

Environment: QK_DATA_DIR (local mirror), QK_FETCH_COPY=1 (copy instead of link),
QK_FETCH_NO_DOWNLOAD=1 (never touch the network: fail instead of downloading),
QK_MODEL_SHA256 (expected sha256 of the model when Hugging Face's header is unavailable).
EOF
}

check=0
text_only=0
dest=
while [ $# -gt 0 ]; do
    case "$1" in
        --check) check=1 ;;
        --text-only) text_only=1 ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option '$1' — see --help" ;;
        *) [ -z "$dest" ] || die "only one DEST may be given"; dest=$1 ;;
    esac
    shift
done
[ -n "$dest" ] || die "no DEST given — usage: datasets/fetch.sh [--check] DEST"

script_dir=$(cd "$(dirname "$0")" && pwd)
repo_dir=$(dirname "$script_dir")
data_dir=${QK_DATA_DIR:-$repo_dir/../shared/data}

command -v sha256sum >/dev/null 2>&1 || die "sha256sum is needed (coreutils)"

file_size() { wc -c < "$1" | tr -d ' '; }
file_sha() { sha256sum "$1" | cut -d' ' -f1; }

# verify_text FILE: size + sha256 of wiki.test.raw
verify_text() {
    [ -f "$1" ] || return 1
    [ "$(file_size "$1")" = "$WIKI_SIZE" ] || { say "$1: size $(file_size "$1"), expected $WIKI_SIZE"; return 1; }
    [ "$(file_sha "$1")" = "$WIKI_SHA" ] || { say "$1: sha256 mismatch"; return 1; }
}

# verify_model FILE [SIZE SHA]: GGUF magic, and size / sha256 when known
verify_model() {
    [ -f "$1" ] || return 1
    magic=$(head -c 4 "$1" 2>/dev/null || true)
    [ "$magic" = "GGUF" ] || { say "$1: not a GGUF file"; return 1; }
    want_size=${2:-}
    want_sha=${3:-${QK_MODEL_SHA256:-}}
    if [ -n "$want_size" ] && [ "$(file_size "$1")" != "$want_size" ]; then
        say "$1: size $(file_size "$1"), expected $want_size"; return 1
    fi
    if [ -n "$want_sha" ] && [ "$(file_sha "$1")" != "$want_sha" ]; then
        say "$1: sha256 mismatch (expected $want_sha)"; return 1
    fi
    if [ -z "$want_sha" ] && [ ! -f "$1.sha256" ]; then
        say "$1: GGUF magic ok (no published sha256 at hand to compare)"
    elif [ -z "$want_sha" ] && [ "$(cat "$1.sha256")" != "$(file_sha "$1")" ]; then
        say "$1: sha256 differs from the one recorded at download ($1.sha256)"; return 1
    fi
    return 0
}

# place SRC DST: link (or copy) SRC to DST
place() {
    mkdir -p "$(dirname "$2")"
    rm -f "$2"
    if [ "${QK_FETCH_COPY:-0}" = 1 ]; then cp "$1" "$2.part" && mv "$2.part" "$2"
    else ln -s "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")" "$2"; fi
}

# download URL OUT [quiet]: curl or wget to OUT (which is a .part file)
download() {
    if [ "${QK_FETCH_NO_DOWNLOAD:-0}" = 1 ]; then
        say "downloads disabled (QK_FETCH_NO_DOWNLOAD=1): not fetching $1"; return 1
    fi
    if command -v curl >/dev/null 2>&1; then
        if [ -n "${3:-}" ]; then curl -fsSL --retry 2 --connect-timeout 20 -o "$2" "$1"
        else curl -fL --progress-bar --retry 2 --connect-timeout 20 -o "$2" "$1"; fi
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
    else
        die "neither curl nor wget is installed — install one, or put the files in $data_dir"
    fi
}

# HF headers of the LFS object: "SIZE SHA" (empty when unavailable)
hf_size_sha() {
    command -v curl >/dev/null 2>&1 || return 0
    hdr=$(curl -sIL --connect-timeout 20 "$1" 2>/dev/null | tr -d '\r') || return 0
    size=$(printf '%s\n' "$hdr" | awk -F': ' 'tolower($1)=="x-linked-size"{print $2}' | tail -n1)
    sha=$(printf '%s\n' "$hdr" | awk -F': ' 'tolower($1)=="x-linked-etag"{print $2}' | tr -d '"' | tail -n1)
    printf '%s %s\n' "$size" "$sha"
}

err() { printf '%s: error: %s\n' "$me" "$*" >&2; }

# ---- WikiText-2 -------------------------------------------------------------------------
fetch_text() {
    text_dst=$dest/$WIKI_REL
    if verify_text "$text_dst" 2>/dev/null; then
        say "ok: $text_dst"; return 0
    fi
    if [ $check = 1 ]; then
        say "missing or wrong: $text_dst"; return 1
    fi
    if verify_text "$data_dir/$WIKI_REL" 2>/dev/null; then
        place "$data_dir/$WIKI_REL" "$text_dst" || return 1
        say "linked $text_dst from $data_dir"; return 0
    fi
    mkdir -p "$dest/wikitext-2-raw" || return 1
    zip=$dest/wikitext-2-raw-v1.zip
    ok=0
    for url in $ZIP_URLS; do
        say "downloading $url"
        if download "$url" "$zip.part" quiet; then ok=1; break; fi
        rm -f "$zip.part"
        say "download failed: $url"
    done
    if [ $ok = 0 ]; then
        err "cannot download WikiText-2 (offline?) — put wiki.test.raw into $data_dir/$WIKI_REL or $text_dst by hand"
        return 1
    fi
    if [ "$(file_size "$zip.part")" != "$ZIP_SIZE" ] || [ "$(file_sha "$zip.part")" != "$ZIP_SHA" ]; then
        rm -f "$zip.part"
        err "wikitext-2-raw-v1.zip failed its size/sha256 check — try again later"; return 1
    fi
    mv "$zip.part" "$zip" || return 1
    if command -v unzip >/dev/null 2>&1; then
        unzip -p "$zip" wikitext-2-raw/wiki.test.raw > "$text_dst.part" || return 1
    elif command -v python3 >/dev/null 2>&1; then
        python3 -c 'import sys,zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("wikitext-2-raw/wiki.test.raw"))' "$zip" > "$text_dst.part" || return 1
    else
        err "need unzip or python3 to extract $zip"; return 1
    fi
    if ! verify_text "$text_dst.part"; then
        rm -f "$text_dst.part"
        err "extracted wiki.test.raw failed its sha256 check"; return 1
    fi
    mv "$text_dst.part" "$text_dst" || return 1
    say "ok: $text_dst (downloaded)"
}

# ---- Qwen2.5-0.5B-Instruct F16 ------------------------------------------------------------
fetch_model() {
    model_dst=$dest/$MODEL_REL
    if [ -f "$model_dst" ] && verify_model "$model_dst"; then
        say "ok: $model_dst"; return 0
    fi
    if [ $check = 1 ]; then
        say "missing or wrong: $model_dst"; return 1
    fi
    src=
    for cand in "$data_dir/$MODEL_REL" "$data_dir/models/$MODEL_FILE"; do
        if [ -f "$cand" ] && verify_model "$cand"; then src=$cand; break; fi
    done
    if [ -n "$src" ]; then
        place "$src" "$model_dst" || return 1
        say "linked $model_dst from $src"; return 0
    fi
    mkdir -p "$(dirname "$model_dst")" || return 1
    set -- $(hf_size_sha "$MODEL_URL")
    want_size=${1:-}
    want_sha=${2:-}
    # an ETag that is not 64 lower-case hex digits is not a sha256
    case "$want_sha" in
        *[!0-9a-f]*|'') want_sha=${QK_MODEL_SHA256:-} ;;
    esac
    [ ${#want_sha} = 64 ] || want_sha=
    say "downloading $MODEL_URL${want_size:+ ($want_size bytes)}"
    if ! download "$MODEL_URL" "$model_dst.part"; then
        rm -f "$model_dst.part"
        if [ "${QK_FETCH_MODEL_OPTIONAL:-0}" = 1 ]; then say "warning: cannot download the model (offline?)"
        else err "cannot download the model (offline?) — put $MODEL_FILE into $data_dir/models/ or $model_dst by hand"; fi
        return 1
    fi
    if ! verify_model "$model_dst.part" "$want_size" "$want_sha"; then
        rm -f "$model_dst.part"
        err "downloaded model failed verification — try again"; return 1
    fi
    file_sha "$model_dst.part" > "$model_dst.sha256" || return 1
    mv "$model_dst.part" "$model_dst" || return 1
    say "ok: $model_dst (downloaded${want_sha:+, sha256 verified})"
}

status=0
fetch_text || status=1
if [ $text_only = 0 ]; then
    fetch_model || status=1
fi
exit $status
