#ifndef NODEAGENT_CLIBVIRT_SHIM_H
#define NODEAGENT_CLIBVIRT_SHIM_H
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#endif
