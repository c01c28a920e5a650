// SPDX-License-Identifier: GPL-2.0
/*
 * The inputnet fixture: a module that registers one device of each of two subsystems a user
 * sees in /proc and /sys without a device node of its own:
 *
 *  - "pk-input", an input device (BUS_VIRTUAL 1234:5678 v0100, EV_KEY with KEY_A and KEY_B)
 *    that reports one KEY_A press and release at init;
 *  - "pkdummy%d", an Ethernet-like net device (ether_setup, IFF_NOARP, MAC 02:00:00:00:00:01)
 *    whose transmit counts the packet and frees it.
 */
#define pr_fmt(fmt) "inputnet: " fmt

#include <linux/etherdevice.h>
#include <linux/input.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>

static struct input_dev *pk_input;
static struct net_device *pk_net;

static netdev_tx_t pk_start_xmit(struct sk_buff *skb, struct net_device *dev)
{
	dev->stats.tx_packets++;
	dev->stats.tx_bytes += skb->len;
	dev_kfree_skb(skb);
	return NETDEV_TX_OK;
}

static const struct net_device_ops pk_netdev_ops = {
	.ndo_start_xmit = pk_start_xmit,
};

static const u8 pk_mac[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

static int __init inputnet_init(void)
{
	int err;

	pk_input = input_allocate_device();
	if (!pk_input)
		return -ENOMEM;
	pk_input->name = "pk-input";
	pk_input->phys = "pk/input0";
	pk_input->id.bustype = BUS_VIRTUAL;
	pk_input->id.vendor = 0x1234;
	pk_input->id.product = 0x5678;
	pk_input->id.version = 0x0100;
	input_set_capability(pk_input, EV_KEY, KEY_A);
	input_set_capability(pk_input, EV_KEY, KEY_B);
	err = input_register_device(pk_input);
	if (err) {
		pr_err("input_register_device: %d\n", err);
		input_free_device(pk_input);
		return err;
	}
	input_report_key(pk_input, KEY_A, 1);
	input_sync(pk_input);
	input_report_key(pk_input, KEY_A, 0);
	input_sync(pk_input);
	pr_info("input device %s\n", dev_name(&pk_input->dev));

	pk_net = alloc_netdev(0, "pkdummy%d", NET_NAME_ENUM, ether_setup);
	if (!pk_net) {
		err = -ENOMEM;
		goto out_input;
	}
	pk_net->netdev_ops = &pk_netdev_ops;
	pk_net->flags |= IFF_NOARP;
	eth_hw_addr_set(pk_net, pk_mac);
	err = register_netdev(pk_net);
	if (err) {
		pr_err("register_netdev: %d\n", err);
		free_netdev(pk_net);
		goto out_input;
	}
	pr_info("net device %s ifindex %d\n", pk_net->name, pk_net->ifindex);
	return 0;

out_input:
	input_unregister_device(pk_input);
	return err;
}

static void __exit inputnet_exit(void)
{
	unregister_netdev(pk_net);
	free_netdev(pk_net);
	input_unregister_device(pk_input);
	pr_info("gone\n");
}

module_init(inputnet_init);
module_exit(inputnet_exit);
MODULE_LICENSE("GPL");
MODULE_AUTHOR("pseudokernel fixtures");
MODULE_DESCRIPTION("an input device and a virtual net device");
