/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest networking: UpdateInterface, UpdateRoutes, AddARPNeighbors. Not
 * implemented yet: they need rtnetlink (RTM_NEWLINK/NEWADDR/NEWROUTE/
 * NEWNEIGH), which comes with the shim's network setup. Until then they
 * answer UNIMPLEMENTED with a message saying so; requests are still
 * validated first (INVALID_ARGUMENT wins).
 */
#include "service-internal.h"

static grpc_status_code not_yet(struct agent_rpc_status *st, const char *rpc)
{
	return agent_rpc_status_set(st, GRPC_STATUS_UNIMPLEMENTED,
				    "%s is not implemented by this agent yet (guest network "
				    "configuration over rtnetlink is planned)", rpc);
}

AGENT_HANDLER(agent_h_update_interface)
{
	return not_yet(st, "UpdateInterface");
}

AGENT_HANDLER(agent_h_update_routes)
{
	return not_yet(st, "UpdateRoutes");
}

AGENT_HANDLER(agent_h_add_arp_neighbors)
{
	return not_yet(st, "AddARPNeighbors");
}
