#!/usr/bin/env bash
# Regenerate audio/: the example station's sample bulletins, for the commune
# station of Thạch Hà during the national Digital Transformation Day campaign
# (Ngày Chuyển đổi số quốc gia, 10/10).
#
# The output is committed: building, testing and running the example need
# none of these tools. Run this only to change a bulletin's text.
#
# Needs: espeak-ng (Vietnamese voice, `-v vi`), sox, ffmpeg with libmp3lame, jq.
# Every file is speech from espeak-ng, with tones from sox where a jingle or
# alert belongs, normalised to about -16 LUFS (ffmpeg loudnorm) so that items
# sound alike on air, and written as mono 22.05 kHz 40 kbit/s MP3: plenty
# for a loudspeaker line, small enough to commit.
set -euo pipefail

cd "$(dirname "$0")/.."
out=audio
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rate=22050

# speak NAME TEXT: Vietnamese speech to $tmp/NAME.wav (mono, $rate Hz).
speak() {
  espeak-ng -v vi -s 135 -p 45 -w "$tmp/$1.raw.wav" "$2"
  sox "$tmp/$1.raw.wav" -r "$rate" -c 1 -b 16 "$tmp/$1.wav" pad 0 0.3
}

# silence NAME SECONDS
silence() { sox -n -r "$rate" -c 1 -b 16 "$tmp/$1.wav" trim 0 "$2"; }

# A four-note rising chime (station ID) and its falling mirror (closing).
chime() {
  local name=$1
  shift
  local parts=()
  local i=0
  for f in "$@"; do
    sox -n -r "$rate" -c 1 -b 16 "$tmp/$name.$i.wav" synth 0.35 sine "$f" sine "$((f * 2))" \
      remix 1,2 fade q 0.01 0.35 0.2 vol 0.4
    parts+=("$tmp/$name.$i.wav")
    i=$((i + 1))
  done
  sox "${parts[@]}" "$tmp/$name.wav" pad 0 0.3
}

# Alert tone for emergencies: three high-low bursts, like a siren.
alert() {
  sox -n -r "$rate" -c 1 -b 16 "$tmp/alert.hi.wav" synth 0.25 square 880 vol 0.25
  sox -n -r "$rate" -c 1 -b 16 "$tmp/alert.lo.wav" synth 0.25 square 660 vol 0.25
  local a="$tmp/alert.hi.wav" b="$tmp/alert.lo.wav"
  sox "$a" "$b" "$a" "$b" "$a" "$b" "$tmp/alert.wav" pad 0 0.4
}

# encode OUT PARTS...: join, normalise loudness, write the committed MP3.
encode() {
  local dest="$out/$1"
  shift
  mkdir -p "$(dirname "$dest")"
  local parts=()
  for p in "$@"; do parts+=("$tmp/$p.wav"); done
  sox "${parts[@]}" "$tmp/joined.wav"
  # Two-pass loudnorm: measure, then apply the measured values linearly
  # (one pass undershoots on clips this short).
  local target="I=-16:TP=-1.5:LRA=11"
  local m
  m=$(ffmpeg -nostdin -hide_banner -i "$tmp/joined.wav" \
    -af "loudnorm=$target:print_format=json" -f null - 2>&1 | sed -n '/^{/,/^}/p')
  local mi mtp mlra mth off
  mi=$(jq -r .input_i <<<"$m")
  mtp=$(jq -r .input_tp <<<"$m")
  mlra=$(jq -r .input_lra <<<"$m")
  mth=$(jq -r .input_thresh <<<"$m")
  off=$(jq -r .target_offset <<<"$m")
  ffmpeg -nostdin -hide_banner -loglevel error -y -i "$tmp/joined.wav" \
    -af "loudnorm=$target:measured_I=$mi:measured_TP=$mtp:measured_LRA=$mlra:measured_thresh=$mth:offset=$off:linear=true" \
    -ar "$rate" -ac 1 \
    -c:a libmp3lame -b:a 40k -map_metadata -1 -id3v2_version 0 -write_id3v1 0 "$dest"
}

chime id_up 523 659 784 1047
chime id_down 1047 784 659 523
alert
silence gap 0.4

# ---- jingles --------------------------------------------------------------
speak id "Đây là Đài truyền thanh xã Thạch Hà."
encode jingles/nhac-hieu.mp3 id_up id

speak end "Buổi phát thanh đến đây là kết thúc. Xin cảm ơn quý vị và các bạn đã chú ý lắng nghe."
encode jingles/ket-thuc.mp3 end id_down

# ---- chuyển đổi số (the campaign) -----------------------------------------
speak thong_diep "Hưởng ứng Ngày Chuyển đổi số quốc gia mười tháng mười. \
Thông điệp năm nay là: Chuyển đổi số, nhanh hơn, hiệu quả hơn, gần dân hơn. \
Chuyển đổi số giúp người dân làm thủ tục hành chính ngay tại nhà, \
tiết kiệm thời gian và chi phí. Mỗi người dân hãy cùng chung tay \
xây dựng xã Thạch Hà số."
encode cds/thong-diep.mp3 thong_diep

speak binh_dan "Phong trào Bình dân học vụ số đang được triển khai trên toàn xã. \
Mỗi người dân hãy học các kỹ năng số cơ bản: sử dụng điện thoại thông minh an toàn, \
kích hoạt tài khoản định danh điện tử VNeID mức độ hai, \
và nộp hồ sơ trên Cổng dịch vụ công trực tuyến. \
Các lớp hướng dẫn miễn phí được tổ chức vào tối thứ Bảy hằng tuần \
tại nhà văn hóa các thôn. Không để ai bị bỏ lại phía sau."
encode cds/binh-dan-hoc-vu-so.mp3 binh_dan

speak di_tung_ngo "Các tổ công nghệ số cộng đồng của xã đang đi từng ngõ, gõ từng nhà, \
hướng dẫn bà con cài đặt ứng dụng VNeID, thanh toán không dùng tiền mặt \
và nhận thông báo của chính quyền trên điện thoại. \
Bà con cần hỗ trợ xin liên hệ tổ công nghệ số cộng đồng ở thôn mình."
encode cds/di-tung-ngo.mp3 di_tung_ngo

# ---- thông báo (local notices) --------------------------------------------
speak tiem_chung "Thông báo của Trạm y tế xã. Sáng thứ Năm tuần này, \
từ bảy giờ đến mười một giờ, Trạm y tế tổ chức tiêm chủng mở rộng \
cho trẻ em dưới năm tuổi. Đề nghị các gia đình đưa trẻ đến đúng giờ \
và mang theo sổ tiêm chủng."
encode thong-bao/lich-tiem-chung.mp3 tiem_chung

speak thoi_tiet "Bản tin thời tiết. Hôm nay trời nhiều mây, có mưa rào rải rác, \
nhiệt độ từ hai mươi sáu đến ba mươi hai độ. \
Bà con chú ý khơi thông mương máng, chăm sóc lúa mùa \
và phòng trừ sâu cuốn lá."
encode thong-bao/thoi-tiet.mp3 thoi_tiet

# ---- khẩn cấp (emergency) -------------------------------------------------
speak bao "Tin khẩn cấp. Bão số năm đang tiến vào đất liền, \
dự kiến đêm nay gây gió mạnh và mưa rất to trên địa bàn xã. \
Đề nghị bà con khẩn trương chằng chống nhà cửa, \
đưa tàu thuyền vào nơi tránh trú an toàn, \
không ra khơi và không đi qua sông suối khi có lũ. \
Các hộ ở vùng trũng chuẩn bị sơ tán theo hướng dẫn của chính quyền."
encode khan-cap/canh-bao-bao.mp3 alert gap bao

# Report what was made.
for f in $(find "$out" -name '*.mp3' | sort); do
  printf '%-36s %6.1f s %7d bytes\n' "$f" "$(soxi -D "$f")" "$(stat -c %s "$f")"
done
du -sh "$out"
