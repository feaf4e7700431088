// Pricing as code for Metronome, the usage-based billing platform: billable metrics, custom field keys, products and rate cards.
package metronome
