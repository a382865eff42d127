"""How ffmpeg and ffprobe may open untrusted media: one local file, no more.

``-protocol_whitelist file`` keeps the network out, but a playlist or concat
demuxer (HLS ``.m3u8``, ``ffconcat``, DASH) would still open *other* local
files named inside the media. ``-format_whitelist`` therefore names the
demuxers of plain media containers and images; playlist-like ones are absent.
"""

from __future__ import annotations

SAFE_DEMUXERS = (
    "mov,matroska,webm,avi,flv,mpegts,mpeg,mpegvideo,ogg,wav,w64,mp3,flac,aac,ac3,eac3,"
    "asf,aiff,amr,caf,m4v,h264,hevc,mjpeg,ivf,dv,mxf,wv,tta,ape,au,gif,png_pipe,jpeg_pipe,"
    "webp_pipe,bmp_pipe,tiff_pipe,gif_pipe,image2"
)
"""Demuxers untrusted input may use (ffmpeg 5.1 names); no hls, concat or dash."""


def safe_input_options() -> list[str]:
    """Options to put before the input of every ffmpeg or ffprobe call."""
    return ["-protocol_whitelist", "file", "-format_whitelist", SAFE_DEMUXERS]
