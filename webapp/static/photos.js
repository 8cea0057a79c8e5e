// Photos on the phone, before they are queued: read the EXIF position and time from
// the original JPEG (re-encoding through a canvas drops EXIF, so the server gets them
// as `photo_meta`), then downscale to at most 1600 px on the longest side (the page's
// data-photo-side, ONEMAP_PHOTO_SIDE), JPEG 0.85, so that a report goes through on a weak 3G connection.
(function (global) {
  "use strict";
  const MAX_SIDE = 1600;
  const QUALITY = 0.85;
  const EXIF_BYTES = 256 * 1024; // the APP1 segment sits at the start and is at most 64 KB
  const TYPE_SIZE = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8 };

  const pad = (n) => String(n).padStart(2, "0");

  // ISO 8601 with the phone's UTC offset, e.g. 2026-05-01T09:30:00+08:00.
  function isoWithOffset(date) {
    const minutes = -date.getTimezoneOffset();
    const sign = minutes >= 0 ? "+" : "-";
    const abs = Math.abs(minutes);
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:` +
      `${pad(date.getMinutes())}:${pad(date.getSeconds())}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }

  // ------------------------------------------------------------ EXIF (JPEG APP1, TIFF IFDs)
  // {lat, lon, taken_at} from a JPEG's EXIF, or null when it has none of them.
  function readExif(buffer) {
    const view = new DataView(buffer);
    if (view.byteLength < 4 || view.getUint16(0) !== 0xffd8) return null;
    let offset = 2;
    while (offset + 4 <= view.byteLength) {
      const marker = view.getUint16(offset);
      if ((marker & 0xff00) !== 0xff00 || marker === 0xffda || marker === 0xffd9) return null;
      const length = view.getUint16(offset + 2);
      if (marker === 0xffe1 && length > 8 && view.getUint32(offset + 4) === 0x45786966 &&
          view.getUint16(offset + 8) === 0) { // "Exif\0\0"
        return readTiff(view, offset + 10, Math.min(view.byteLength, offset + 2 + length));
      }
      offset += 2 + length;
    }
    return null;
  }

  function readTiff(view, start, end) {
    const order = view.getUint16(start);
    const little = order === 0x4949; // "II"; "MM" is big-endian
    if ((!little && order !== 0x4d4d) || view.getUint16(start + 2, little) !== 42) return null;
    const inside = (at, size) => at >= 0 && start + at + size <= end;
    const u16 = (at) => view.getUint16(start + at, little);
    const u32 = (at) => view.getUint32(start + at, little);
    function ifd(at) { // {tag: {type, count, at}} where `at` is where the value is
      const tags = {};
      if (!at || !inside(at, 2)) return tags;
      for (let i = 0, n = u16(at); i < n && inside(at + 2 + 12 * i, 12); i++) {
        const entry = at + 2 + 12 * i;
        const type = u16(entry + 2);
        const count = u32(entry + 4);
        const size = (TYPE_SIZE[type] || 1) * count;
        const where = size <= 4 ? entry + 8 : u32(entry + 8);
        if (inside(where, size)) tags[u16(entry)] = { type, count, at: where };
      }
      return tags;
    }
    const text = (tag) => {
      if (!tag || tag.type !== 2) return null;
      let out = "";
      for (let i = 0; i < tag.count; i++) {
        const c = view.getUint8(start + tag.at + i);
        if (!c) break;
        out += String.fromCharCode(c);
      }
      return out.trim();
    };
    const rationals = (tag) => {
      if (!tag || (tag.type !== 5 && tag.type !== 10)) return null;
      const out = [];
      for (let i = 0; i < tag.count; i++) {
        const num = tag.type === 5 ? u32(tag.at + 8 * i) : view.getInt32(start + tag.at + 8 * i, little);
        const den = tag.type === 5 ? u32(tag.at + 8 * i + 4) : view.getInt32(start + tag.at + 8 * i + 4, little);
        out.push(den ? num / den : NaN);
      }
      return out;
    };
    const pointer = (tag) => (tag && (tag.type === 4 || tag.type === 13) ? u32(tag.at) : 0);
    const degrees = (tag, ref, negative) => {
      const dms = rationals(tag);
      if (!dms || dms.length < 3 || !dms.every(Number.isFinite)) return null;
      const value = dms[0] + dms[1] / 60 + dms[2] / 3600;
      return text(ref) === negative ? -value : value;
    };

    const ifd0 = ifd(u32(4));
    const exif = ifd(pointer(ifd0[0x8769]));
    const gps = ifd(pointer(ifd0[0x8825]));
    const meta = { lat: null, lon: null, taken_at: null };
    const lat = degrees(gps[2], gps[1], "S");
    const lon = degrees(gps[4], gps[3], "W");
    if (lat !== null && lon !== null && Math.abs(lat) <= 90 && Math.abs(lon) <= 180 && (lat || lon)) {
      meta.lat = Math.round(lat * 1e7) / 1e7;
      meta.lon = Math.round(lon * 1e7) / 1e7;
    }
    const gpsDate = /^(\d{4}):(\d{2}):(\d{2})$/.exec(text(gps[0x1d]) || "");
    const gpsTime = rationals(gps[7]);
    const local = /^(\d{4}):(\d{2}):(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(
      text(exif[0x9003]) || text(exif[0x9004]) || text(ifd0[0x0132]) || "");
    const offset = /^[+-]\d{2}:\d{2}$/.exec(text(exif[0x9011]) || text(exif[0x9010]) || "");
    if (gpsDate && gpsTime && gpsTime.length >= 3 && gpsTime.every(Number.isFinite)) { // GPS time is UTC
      const [h, m, s] = gpsTime;
      meta.taken_at = new Date(Date.UTC(+gpsDate[1], gpsDate[2] - 1, +gpsDate[3], h, m, Math.floor(s)))
        .toISOString().replace(".000Z", "Z");
    } else if (local && offset) {
      meta.taken_at = `${local[1]}-${local[2]}-${local[3]}T${local[4]}:${local[5]}:${local[6]}${offset[0]}`;
    } else if (local) { // camera time without a zone: this phone's zone
      const date = new Date(+local[1], local[2] - 1, +local[3], +local[4], +local[5], +local[6]);
      if (!Number.isNaN(date.getTime())) meta.taken_at = isoWithOffset(date);
    }
    return meta.lat === null && meta.taken_at === null ? null : meta;
  }

  function exifOf(file) {
    return file.slice(0, EXIF_BYTES).arrayBuffer().then((buffer) => {
      try {
        return readExif(buffer);
      } catch (err) {
        return null; // a broken EXIF block is no reason to refuse the photo
      }
    }, () => null);
  }

  // ------------------------------------------------------------ downscale
  function decode(file) {
    if (global.createImageBitmap) {
      return createImageBitmap(file, { imageOrientation: "from-image" }).catch(() => decodeWithImg(file));
    }
    return decodeWithImg(file);
  }

  function decodeWithImg(file) {
    return new Promise((resolve, reject) => {
      const url = URL.createObjectURL(file);
      const img = new Image();
      img.onload = () => { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = () => { URL.revokeObjectURL(url); reject(new Error("cannot decode")); };
      img.src = url;
    });
  }

  // {blob, width, height}: a JPEG of at most maxSide px; the original when the browser cannot decode it.
  async function downscale(file, maxSide = MAX_SIDE) {
    let image;
    try {
      image = await decode(file);
    } catch (err) {
      return { blob: file, width: null, height: null };
    }
    const width = image.width || image.naturalWidth;
    const height = image.height || image.naturalHeight;
    const scale = Math.min(1, maxSide / Math.max(width, height));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
    if (image.close) image.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", QUALITY));
    canvas.width = canvas.height = 0; // free the pixels at once on a small phone
    return blob ? { blob, width: Math.round(width * scale), height: Math.round(height * scale) }
      : { blob: file, width: null, height: null };
  }

  // EXIF first (from the original), then the small copy.
  async function prepare(file, maxSide = MAX_SIDE) {
    const meta = await exifOf(file);
    const small = await downscale(file, maxSide);
    return { meta, blob: small.blob, width: small.width, height: small.height };
  }

  global.OneMapPhotos = { readExif, downscale, prepare, isoWithOffset, MAX_SIDE, QUALITY };
})(window);
