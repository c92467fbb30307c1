// HTTP field syntax checks for the bytes the gateway writes itself (RFC 9110 5.1, 5.5).

/** A field name (a token). */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What must never reach a request line or field written upstream: it would end or split a line (request smuggling). */
export const LINE_BREAKING = /[\r\n\0]/;
/** What node:http refuses in a response field value: anything but HTAB, SP, visible ASCII, obs-text. */
export const INVALID_RESPONSE_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
