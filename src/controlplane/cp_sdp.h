/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SDP offer/answer for a B2BUA that anchors media (RFC 4566, RFC 3264). Pure C, no I/O, no
 * allocation: a strict parser of one body into a caller-owned struct cp_sdp, a rewriter that
 * produces the SDP for the other leg (the appliance's addresses and ports, its own o= line,
 * codec filtering, ICE and anything unknown dropped so that nothing of one leg's topology reaches
 * the other) together with what the dataplane needs per stream, the offer/answer matching rules,
 * and the hold/resume re-offers of RFC 3264 section 8.4.
 *
 * The parser is our own and strict on purpose (libosip2's sdp_message_parse accepts m= ports
 * like "99999" or "abc", c=IN IP9 junk, payload type 300 and 30-digit session ids, keeps no
 * limits and allocates per field): every field the appliance acts upon is validated, every count
 * is bounded, and any error returns -EINVAL with a one-line reason naming the line and field.
 *
 * Strings of a parsed SDP are spans into the struct's own copy of the body (cp_sdp_ptr), never
 * NUL-terminated. Nothing here keeps global state: every function is reentrant; a struct is
 * used by one thread at a time (the control plane's loop thread).
 */
#ifndef TG_CP_SDP_H
#define TG_CP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tg_msg.h"

/* Limits: a body past any of them is refused with -EINVAL and a reason. */
#define CP_SDP_MAX_BODY 16384 /* bytes */
#define CP_SDP_MAX_LINES 512
#define CP_SDP_MAX_LINE 1024 /* bytes in one line, type and '=' included */
#define CP_SDP_MAX_MEDIA 8   /* m= sections */
#define CP_SDP_MAX_PT 32     /* formats on one m= line */
#define CP_SDP_MAX_ATTRS 32  /* pass-through attributes kept per section */
#define CP_SDP_MAX_BW 4	     /* b= lines per section */
#define CP_SDP_NAME_LEN 32   /* an encoding name and its NUL */
#define CP_SDP_WHY_LEN 160   /* enough for every reason this module writes */

/* A piece of cp_sdp.text: off/len in bytes. len 0 = absent or empty. */
struct cp_sdp_span {
	uint16_t off;
	uint16_t len;
};

enum cp_sdp_dir {
	CP_SDP_DIR_NONE = 0, /* no attribute written (the default is sendrecv) */
	CP_SDP_SENDRECV,
	CP_SDP_SENDONLY,
	CP_SDP_RECVONLY,
	CP_SDP_INACTIVE,
};

enum cp_sdp_role {
	CP_SDP_OFFER = 0,
	CP_SDP_ANSWER = 1,
};

/* m= transport. UDP-based ones can be anchored by the relay; the others are rejected. */
enum cp_sdp_proto {
	CP_SDP_PROTO_OTHER = 0, /* anything else: TCP/MSRP, TCP/BFCP... */
	CP_SDP_RTP_AVP,
	CP_SDP_RTP_AVPF,
	CP_SDP_RTP_SAVP,
	CP_SDP_RTP_SAVPF,
	CP_SDP_UDP_TLS_RTP_SAVP,
	CP_SDP_UDP_TLS_RTP_SAVPF,
	CP_SDP_UDPTL, /* T.38 */
	CP_SDP_UDP,
};

#define CP_SDP_CF_RTPMAP 0x01 /* had an a=rtpmap (else the name comes from RFC 3551's table) */
#define CP_SDP_CF_DTMF 0x02   /* telephone-event */
#define CP_SDP_CF_CN 0x04     /* comfort noise */
#define CP_SDP_CF_FMTP 0x08   /* had an a=fmtp */

/* One payload type of an RTP m= line. */
struct cp_sdp_codec {
	char name[CP_SDP_NAME_LEN]; /* "PCMU", "opus"...; "" = dynamic type without a=rtpmap */
	uint32_t clock_rate;	    /* 0 = unknown */
	uint8_t pt;
	uint8_t channels;	 /* 0 = not given (one) */
	uint8_t flags;		 /* CP_SDP_CF_* */
	struct cp_sdp_span fmtp; /* a=fmtp parameters after "<pt> " (len 0 = none) */
};

struct cp_sdp_media {
	struct cp_sdp_span type;  /* "audio", "video", "image"... */
	struct cp_sdp_span proto; /* as written */
	struct cp_sdp_span fmts;  /* the format list as written */
	enum cp_sdp_proto proto_id;
	uint16_t port;	     /* 0 = rejected stream */
	struct tg_addr addr; /* effective c= (media-level, else session-level); .port = m= port */
	bool c_media;	     /* the c= was media-level */
	bool zero_addr;	     /* c= 0.0.0.0 or ::. Without ICE: RFC 2543 hold ("send nothing to me");
				with ICE: the address is in the candidates (latch onto it) */
	bool rtcp_mux;	     /* a=rtcp-mux */
	bool ice;	     /* ICE attributes were present (never passed on) */
	enum cp_sdp_dir dir_attr; /* the media-level direction attribute, NONE = absent */
	enum cp_sdp_dir dir;	  /* effective: media, else session, else sendrecv; with a zero
				     c= address and no ICE the receive half is removed */
	uint16_t rtcp_port;	  /* a=rtcp port, 0 = absent */
	struct tg_addr rtcp_addr; /* a=rtcp address, family TG_AF_NONE = not given */
	uint16_t ptime;		  /* ms, 0 = absent */
	uint16_t maxptime;
	uint8_t ncodecs; /* RTP protocols only: one per format, in m= order */
	uint8_t nattrs;
	uint8_t nbw;
	struct cp_sdp_codec codecs[CP_SDP_MAX_PT];
	struct cp_sdp_span attrs[CP_SDP_MAX_ATTRS]; /* kept a= lines, the text after "a=" */
	struct cp_sdp_span bw[CP_SDP_MAX_BW];	    /* b= lines, the text after "b=" */
};

/* One parsed body: about 29 KiB, so keep it in the heap or a static, not on a small stack. */
struct cp_sdp {
	uint64_t sess_id; /* o= */
	uint64_t sess_version;
	struct cp_sdp_span user;	/* o= username */
	struct cp_sdp_span origin_addr; /* o= address as written (may be a host name) */
	uint8_t origin_family;		/* TG_AF_INET / TG_AF_INET6 */
	bool ice;			/* session-level ICE attributes were present */
	struct cp_sdp_span name;	/* s= */
	struct tg_addr conn;		/* session-level c=, family TG_AF_NONE = absent */
	enum cp_sdp_dir dir;		/* session-level direction attribute, NONE = absent */
	uint8_t nattrs;
	uint8_t nbw;
	uint8_t nmedia;
	struct cp_sdp_span attrs[CP_SDP_MAX_ATTRS];
	struct cp_sdp_span bw[CP_SDP_MAX_BW];
	struct cp_sdp_media media[CP_SDP_MAX_MEDIA];
	uint16_t len;			/* bytes of text */
	char text[CP_SDP_MAX_BODY + 1]; /* the body as given; spans point here */
};

static inline const char *cp_sdp_ptr(const struct cp_sdp *s, struct cp_sdp_span sp)
{
	return s->text + sp.off;
}

/*
 * Parses body[0..len) into s. Lines end in CRLF or LF (the last one may end without either);
 * trailing blank lines are ignored. Returns 0, or -EINVAL with a reason in why (when why is not
 * NULL) such as "line 4: c=: bad address 'IN IP4 999.1.1.1'". s is undefined after an error.
 */
int cp_sdp_parse(struct cp_sdp *s, const char *body, size_t len, char *why, size_t whylen);

const char *cp_sdp_dir_name(enum cp_sdp_dir d); /* "sendrecv"... ; NONE reads "sendrecv" */

/* Whether the relay can anchor this transport (UDP-based: RTP profiles, udptl, UDP). */
bool cp_sdp_proto_relayable(enum cp_sdp_proto p);
bool cp_sdp_proto_is_rtp(enum cp_sdp_proto p);

/*
 * Direction mapping. SDP directions are written from their author's side; the dataplane wants
 * TG_DIR_* bits from the appliance's side toward one remote.
 *  - cp_sdp_dir_bits: the bits for the endpoint facing the remote that wrote 'remote' (before
 *    any answer): sendonly -> TG_DIR_RECV (accept its media, send it nothing), recvonly ->
 *    TG_DIR_SEND, sendrecv and NONE -> both, inactive -> 0.
 *  - cp_sdp_dir_answer: the direction an answer may carry given the offer and what the
 *    answerer wants (RFC 3264 section 6.1: it can only narrow): offer sendonly -> recvonly or
 *    inactive, offer recvonly -> sendonly or inactive, offer inactive -> inactive.
 *  - cp_sdp_dir_negotiated: after the exchange, the bits for the endpoint facing the remote
 *    that wrote the offer (remote_role OFFER) or the answer (ANSWER). An answer granting more
 *    than the offer allowed is narrowed first.
 */
uint8_t cp_sdp_dir_bits(enum cp_sdp_dir remote);
enum cp_sdp_dir cp_sdp_dir_answer(enum cp_sdp_dir offer, enum cp_sdp_dir want);
uint8_t cp_sdp_dir_negotiated(
	enum cp_sdp_dir offer, enum cp_sdp_dir answer, enum cp_sdp_role remote_role);

/*
 * Origin state of one leg: the appliance's o= toward that leg. The version starts at 'version'
 * and is incremented each time an SDP sent on the leg differs from the previous one (the o=
 * line aside); an unchanged SDP keeps it (RFC 3264 section 8). Tens of bytes: keep one per leg.
 */
struct cp_sdp_origin {
	uint64_t sess_id;
	uint64_t version; /* of the last SDP sent, or of the first one while sent is false */
	uint64_t hash;	  /* FNV-1a of the last SDP sent, o= line excluded */
	bool sent;
};

void cp_sdp_origin_init(struct cp_sdp_origin *o, uint64_t sess_id, uint64_t version);

/* The appliance's media endpoint for one stream on the leg the rewritten SDP goes to. */
struct cp_sdp_endpoint {
	struct tg_addr rtp; /* address and RTP port; family TG_AF_NONE = none (stream rejected) */
	uint16_t rtcp_port; /* 0 = rtp.port + 1 */
};

struct cp_sdp_rewrite {
	enum cp_sdp_role role; /* what the input is */
	/* ANSWER only: the offer this answer answers, as the leg receiving the rewritten answer
	 * sent it (rtcp-mux is kept only if it had it; directions are narrowed to it). */
	const struct cp_sdp *offer;
	struct tg_addr local; /* session-level c= and o= address (its port is ignored) */
	const struct cp_sdp_endpoint *ep; /* ep[i] for m= line i; may be NULL for cp_sdp_plan */
	unsigned nep;
	/* Encoding names to keep (case-insensitive), NULL = all. telephone-event is always kept
	 * when offered; a stream left without any other codec is rejected (port 0). */
	const char *const *codecs;
	unsigned ncodecs;
	const char *user;	  /* o= username, NULL = "-" (a token: no space, no control) */
	const char *session_name; /* s=, NULL = "-" */
};

enum cp_sdp_reject {
	CP_SDP_REJ_NONE = 0,
	CP_SDP_REJ_PEER,   /* port 0 in the input, or in the offer it answers */
	CP_SDP_REJ_CODECS, /* the codec filter (or the offer) left no usable codec */
	CP_SDP_REJ_PROTO,  /* a transport the relay cannot anchor */
	CP_SDP_REJ_NO_EP,  /* the caller gave no endpoint for it */
};

/* What the B2BUA needs to program the endpoint facing the remote that wrote the input. */
struct cp_sdp_stream {
	uint8_t reject; /* enum cp_sdp_reject: port 0 in the output unless NONE */
	uint8_t dir;	/* TG_DIR_* toward that remote */
	uint8_t flags;	/* TG_EPF_RTCP_MUX: offer: the remote offered it; answer: negotiated */
	uint16_t ptime;
	struct tg_addr remote;	    /* where the remote wants RTP: its c= and m= port */
	struct tg_addr remote_rtcp; /* a=rtcp (its address or the c= one), or RTP port + 1; in
				       an answer that agreed rtcp-mux, the RTP address */
	uint32_t clock_rate;	    /* of the first kept codec that is not telephone-event or CN */
	uint8_t ncodecs;
	struct cp_sdp_codec codecs[CP_SDP_MAX_PT]; /* kept, in m= order; fmtp spans point into
						      the input's text */
};

/* Result of a rewrite (about 12 KiB): the caller points buf/size at its buffer, the rest is
 * filled in. */
struct cp_sdp_out {
	char *buf; /* in: the SDP is written here, CRLF lines, NUL-terminated */
	size_t size;
	size_t len;	   /* out: bytes written, the NUL excluded */
	uint64_t version;  /* out: the o= version written */
	unsigned nstreams; /* out: one per m= line (0 for hold/resume offers) */
	unsigned nactive;  /* out: streams not rejected */
	struct cp_sdp_stream streams[CP_SDP_MAX_MEDIA];
	char why[CP_SDP_WHY_LEN]; /* out: the reason of an error */
};

/*
 * Decides each stream (kept codecs, rejection, remote, direction, rtcp-mux) without writing
 * anything or looking at endpoints, so the caller knows which endpoints to create before the
 * rewrite. Returns 0 or -EINVAL (an answer that does not match its offer, bad params).
 */
int cp_sdp_plan(const struct cp_sdp *in, const struct cp_sdp_rewrite *rw, struct cp_sdp_out *out);

/*
 * The SDP for the other leg: cp_sdp_plan, then the body written with the endpoints' addresses
 * and ports, o= from origin (its version moves only if the body changed; origin is updated only
 * on success), t=0 0, kept codecs with their rtpmap/fmtp/rtcp-fb, direction attributes, a=rtcp
 * with the appliance's RTCP port (dropped once rtcp-mux is negotiated), a=rtcp-mux (offer: as
 * the input; answer: only if the offer had it too). Dropped: ICE (candidates, ice-*), i= u= e=
 * p= k= z= r=, ssrc/msid/group and every attribute this module does not know to be free of
 * addresses. Returns 0, -EINVAL (why says which), or -ENOSPC (buffer too small).
 */
int cp_sdp_rewrite(const struct cp_sdp *in, const struct cp_sdp_rewrite *rw,
	struct cp_sdp_origin *origin, struct cp_sdp_out *out);

/* One m= line of an offer and its answer, matched by index. */
struct cp_sdp_pair {
	uint8_t reject;	      /* PEER: port 0 on either side; CODECS: no codec in common */
	uint8_t dir_offerer;  /* TG_DIR_* for the endpoint facing the offerer */
	uint8_t dir_answerer; /* TG_DIR_* for the endpoint facing the answerer */
	bool rtcp_mux;	      /* both sides have a=rtcp-mux */
	enum cp_sdp_dir dir;  /* the answer's direction, narrowed to what the offer allows */
	uint8_t ncommon;      /* answer codecs that the offer has (name and clock; RTP only) */
};

/*
 * Matches offer and answer stream by stream into pairs[offer->nmedia]. Returns the number of
 * streams, or -EINVAL (why says which) when the answer has another number of m= lines, another
 * media type at some index, or accepts a stream the offer rejected.
 */
int cp_sdp_match(const struct cp_sdp *offer, const struct cp_sdp *answer, struct cp_sdp_pair *pairs,
	char *why, size_t whylen);

/*
 * Re-offers from the current local SDP (what the appliance last sent on the leg, parsed), same
 * addresses, ports and codecs, o= from origin. Hold (RFC 3264 section 8.4): sendrecv and
 * sendonly streams become sendonly, recvonly and inactive ones inactive. Resume: every active
 * stream sendrecv. The version is incremented when this changes the SDP. Returns 0, -EINVAL,
 * -ENOSPC; out->nstreams is 0.
 */
int cp_sdp_hold_offer(
	const struct cp_sdp *local, struct cp_sdp_origin *origin, struct cp_sdp_out *out);
int cp_sdp_resume_offer(
	const struct cp_sdp *local, struct cp_sdp_origin *origin, struct cp_sdp_out *out);

#endif
