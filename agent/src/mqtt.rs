//! MQTT connection options shared by the gateway and HQ.
