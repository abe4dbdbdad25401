/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The eboiv and elephant IV generators (BitLocker). */
#ifndef UDM_IVGEN_ELEPHANT_H
#define UDM_IVGEN_ELEPHANT_H

#include "crypt_internal.h"

int udm_eboiv_ctr(struct udm_crypt *cc, struct udm_error *err);
int udm_eboiv_generate(struct udm_crypt *cc, struct sector_request *req);

int udm_elephant_ctr(struct udm_crypt *cc, struct udm_error *err);
int udm_elephant_init_slot(struct udm_crypt *cc, struct crypt_slot *slot, struct udm_error *err);
int udm_elephant_generate(struct udm_crypt *cc, struct sector_request *req);
int udm_elephant_post(struct udm_crypt *cc, struct sector_request *req);

#endif
