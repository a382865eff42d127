"""A plain description of the media from its probe and stage outputs, for
media with or without words: "5.3-second 1280x720 H.264 video with stereo AAC
audio, no speech, one 2-second silence". Also short tags (the topics of media
without words), taken from the same facts."""

from __future__ import annotations

from typing import Any

CODECS = {
    "h264": "H.264", "hevc": "H.265", "vp8": "VP8", "vp9": "VP9", "av1": "AV1",
    "mpeg4": "MPEG-4", "mpeg2video": "MPEG-2", "mjpeg": "JPEG", "png": "PNG", "gif": "GIF",
    "webp": "WebP", "bmp": "BMP", "tiff": "TIFF", "aac": "AAC", "mp3": "MP3", "opus": "Opus",
    "vorbis": "Vorbis", "flac": "FLAC", "alac": "ALAC", "ac3": "AC-3", "eac3": "E-AC-3",
    "pcm_s16le": "PCM", "pcm_s24le": "PCM", "pcm_f32le": "PCM",
}  # fmt: skip
LANGUAGES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "da": "Danish", "no": "Norwegian",
    "fi": "Finnish", "pl": "Polish", "cs": "Czech", "cz": "Czech", "sk": "Slovak",
    "ru": "Russian", "uk": "Ukrainian", "tr": "Turkish", "ar": "Arabic", "fa": "Persian",
    "hi": "Hindi", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "el": "Greek",
    "hu": "Hungarian", "ro": "Romanian", "bg": "Bulgarian", "hr": "Croatian", "id": "Indonesian",
}  # fmt: skip
TIMES = "\u00d7"  # the multiplication sign of "1280x720"
DOCUMENT_KINDS = {"pdf": "PDF document", "html": "HTML page", "text": "plain-text document"}


def codec(name: Any) -> str:
    return CODECS.get(str(name), str(name).upper()) if name else "unknown"


def language(code: str | None) -> str | None:
    return LANGUAGES.get(code, code) if code else None


def seconds(value: float) -> str:
    """A duration as an adjective: "5.3-second", "12.5-minute", "2.0-hour"."""
    if value < 60:
        return f"{value:.1f}-second"
    if value < 3600:
        return f"{value / 60:.1f}-minute"
    return f"{value / 3600:.1f}-hour"


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _channels(count: Any) -> str:
    return {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}.get(count, f"{count}-channel")


def _silence(audio: dict[str, Any], duration: float) -> str | None:
    silences = audio.get("silences") or []
    total = float(audio.get("silence_seconds") or 0)
    if not silences:
        return None
    if duration and total >= 0.95 * duration:
        return "silent throughout"
    if len(silences) == 1:
        return f"one {_number(silences[0]['duration'])}-second silence"
    return f"{len(silences)} silences totalling {_number(total)} seconds"


def _speech(outputs: dict[str, dict[str, Any]]) -> str | None:
    transcript = outputs.get("transcript")
    if transcript is None:
        return None
    words = len(str(transcript.get("text") or "").split())
    if not words:
        return "no speech"
    spoken = language(transcript.get("language"))
    count = f"{words} word" + ("s" if words != 1 else "")
    return f"speech in {spoken} ({count})" if spoken else f"speech ({count})"


def describe(
    media_type: str, probe: dict[str, Any] | None, outputs: dict[str, dict[str, Any]]
) -> tuple[str, list[str]]:
    """The description sentence (no final full stop) and its tags."""
    probe = probe or {}
    streams = probe.get("streams") or []
    video = next((s for s in streams if s.get("type") == "video"), None)
    sound = next((s for s in streams if s.get("type") == "audio"), None)
    duration = float(probe.get("duration") or 0)
    tags: list[str] = []
    if media_type == "document":
        document = outputs.get("document") or {}
        kind = DOCUMENT_KINDS.get(str(document.get("kind")), "document")
        pages = document.get("page_count")
        text = f"{pages}-page {kind}" if pages else kind[0].upper() + kind[1:]
        words = int(document.get("word_count") or 0)
        text = text[0].upper() + text[1:] + f" of {words} word" + ("s" if words != 1 else "")
        if document.get("title"):
            text += f", titled “{document['title']}”"
        return text, [kind]
    if media_type == "image":
        image = outputs.get("image") or {}
        width, height = image.get("width"), image.get("height")
        fmt = codec(image.get("format") or (video or {}).get("codec"))
        size = f"{width}{TIMES}{height} " if width and height else ""
        return f"{size}{fmt} image", ["image", fmt]
    parts: list[str] = []
    if video is not None and media_type == "video":
        size = f"{video['width']}{TIMES}{video['height']} " if video.get("width") else ""
        head = f"{size}{codec(video.get('codec'))} video"
        tags += ["video", codec(video.get("codec"))]
        if sound is not None:
            head += f" with {_channels(sound.get('channels'))} {codec(sound.get('codec'))} audio"
            tags.append(f"{codec(sound.get('codec'))} audio")
        else:
            head += " without audio"
    else:
        stream = sound or {}
        head = f"{_channels(stream.get('channels'))} {codec(stream.get('codec'))} audio"
        tags += ["audio", codec(stream.get("codec"))]
    parts.append(f"{seconds(duration)} {head}" if duration else head[0].upper() + head[1:])
    if (speech := _speech(outputs)) is not None:
        parts.append(speech)
        tags.append("no speech" if speech == "no speech" else "speech")
    if (silence := _silence(outputs.get("audio") or {}, duration)) is not None:
        parts.append(silence)
        tags.append("silence")
    return ", ".join(parts), tags
