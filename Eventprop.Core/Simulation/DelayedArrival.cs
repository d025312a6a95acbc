namespace Eventprop.Core.Simulation;

/// <summary>
/// A spike's arrival through a connection with learned delays, at <see cref="Time"/> = emission + d: the connection
/// <see cref="Connection"/> of presynaptic population <see cref="Population"/> (an index into
/// <see cref="ExactPlan.Outgoings"/>), its presynaptic row, and either one stored synapse of that row (its offset in the
/// row, <see cref="Synapse"/> ≥ 0, for synaptic delays) or the whole row (−1, axonal delays). <see cref="SourceEvent"/>
/// is the emitting spike's index in <see cref="ExactTrial.Events"/>, or −1 for an input spike.
/// </summary>
internal readonly record struct DelayedArrival(int Population, int Connection, int Row, int Synapse, int SourceEvent, double Time);
