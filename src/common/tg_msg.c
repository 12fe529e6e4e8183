/* SPDX-License-Identifier: BSD-3-Clause */
/* Names of channel message types, for logs and tools. */
#include "tg_msg.h"

const char *tg_msg_type_name(uint16_t type)
{
	switch (type) {
#define TG_X(id, val, name)                                                                        \
	case TG_MSG_##id:                                                                          \
		return name;
		TG_MSG_TYPES(TG_X)
#undef TG_X
	default:
		return "unknown";
	}
}
