/* SPDX-License-Identifier: GPL-2.0-or-later */
/* directord/ipvs_model.h: an in-memory IPVS table that stands in for the
 * kernel's when DIRECTORD_TEST_IPVS=model is set (host-kernel tests: the
 * host has no IPVS). Only directord/ipvs.c uses it; main loop only. */
#ifndef DD_DIRECTORD_IPVS_MODEL_H
#define DD_DIRECTORD_IPVS_MODEL_H

#include "directord/ipvs.h"

struct ipvs_model;

/* NULL unless the environment asks for the model. */
struct ipvs_model *ipvs_model_open(void);
void ipvs_model_close(struct ipvs_model *m);
int ipvs_model_dump_services(const struct ipvs_model *m, struct ipvs_table *out);
int ipvs_model_dump_dests(const struct ipvs_model *m, struct ipvs_service *s);
int ipvs_model_apply(struct ipvs_model *m, struct ipvs_op *ops, size_t n);

#endif
