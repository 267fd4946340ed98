#!/bin/sh
# Add a station to the province's broker: its password and its district.
#   sudo ./add-station.sh STATION_ID DISTRICT
# Prints the password once; put it in the station's password_file.
set -eu
id="$1"; district="$2"
case "$id$district" in *[!A-Za-z0-9._-]*) echo "ids: letters, digits, . _ -" >&2; exit 2;; esac
pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
touch /etc/mosquitto/loa.passwd
mosquitto_passwd -b /etc/mosquitto/loa.passwd "$id" "$pw"
printf '\nuser %s\ntopic read loa/v1/district/%s/bulletin\n' "$id" "$district" >> /etc/mosquitto/loa.acl
systemctl reload mosquitto 2>/dev/null || kill -HUP "$(pidof mosquitto)"
echo "$pw"
